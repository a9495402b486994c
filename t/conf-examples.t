# Every configuration in conf_examples/ passes "nginx -t" with the module.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use lib 't/lib';
use LatencyTest ();

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my %module = map { m{([^/]+)$}; ($1 => $_) }
             split ' ', $ENV{TEST_NGINX_LOAD_MODULES} || '';
LatencyTest::cannot_run('TEST_NGINX_LOAD_MODULES does not name the module')
    unless $module{'ngx_http_upstream_latency_module.so'}
           && $module{'ngx_stream_upstream_latency_module.so'};

my @examples = glob 'conf_examples/*.conf';
ok(@examples, 'there are examples');

for my $example (@examples) {
    my $prefix = tempdir(CLEANUP => 1);
    mkdir "$prefix/logs";

    open my $in, '<', $example or die "$example: $!";
    my $conf = do { local $/; <$in> };

    my $why = $conf =~ /^\s*least_time\s/m && LatencyTest::nginx_least_time();
    if ($why) {
        SKIP: { skip "$example: $why", 1 }
        next;
    }

    # the examples load modules from nginx's modules directory; nginx's
    # stream module is built in on some (1.22 to 1.31 built from source
    # by t/compat/build)
    $conf =~ s{load_module modules/([^;]+);\n}
              {$module{$1} ? "load_module $module{$1};\n"
                           : $1 eq 'ngx_stream_module.so' ? ''
                           : die "$example: $1 is not in TEST_NGINX_LOAD_MODULES\n"}ge
        or die "$example loads no module\n";
    $conf =~ s{\nevents}{\nerror_log $prefix/logs/error.log;\npid $prefix/logs/nginx.pid;\nevents}
        or die "$example has no events block\n";

    open my $out, '>', "$prefix/nginx.conf" or die $!;
    print $out $conf;
    close $out;

    my $output = `$nginx -p $prefix/ -c $prefix/nginx.conf -t 2>&1`;
    is($?, 0, "$example passes nginx -t") or diag $output;
}

done_testing();
