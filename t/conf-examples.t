# Every configuration in conf_examples/ passes "nginx -t" with the module.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use lib 't/lib';
use LatencyTest ();

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my ($module) = grep { m{/ngx_http_upstream_latency_module\.so$} }
               split ' ', $ENV{TEST_NGINX_LOAD_MODULES} || '';
LatencyTest::cannot_run('TEST_NGINX_LOAD_MODULES does not name the module')
    unless $module;

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

    # the examples load the module from nginx's modules directory
    $conf =~ s{load_module modules/ngx_http_upstream_latency_module\.so;}
              {load_module $module;\nerror_log $prefix/logs/error.log;\npid $prefix/logs/nginx.pid;}
        or die "$example does not load the module\n";

    open my $out, '>', "$prefix/nginx.conf" or die $!;
    print $out $conf;
    close $out;

    my $output = `$nginx -p $prefix/ -c $prefix/nginx.conf -t 2>&1`;
    is($?, 0, "$example passes nginx -t") or diag $output;
}

done_testing();
