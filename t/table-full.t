# An explicit latency zone too small for the configured servers: refused
# with a clear message at start and at reload; after a refused reload the
# running configuration keeps balancing.
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use File::Temp qw(tempdir);
use lib 't/lib';
use LatencyTest ();
use OwnNginx;
use LatencyTest;

LatencyTest::cannot_run(OwnNginx::missing()) if OwnNginx::missing();
plan skip_all => LatencyTest::nginx_least_time()
    if LatencyTest::nginx_least_time();
$SIG{ALRM} = sub { die "table-full.t: out of time\n" };
alarm 60;

# 200 servers never contacted, behind the two that answer
my ($front, $first, $second) = LatencyTest::free_ports(3);
my $many = join '', map { "        server 127.0.0.1:" . (21000 + $_)
                          . " down;\n" } 1 .. 200;

# the http block with a zone of $zone (the default if undef)
sub http_block {
    my ($zone, $extra) = @_;
    my $size = defined $zone ? "upstream_latency_zone $zone;" : '';
    return <<"HTTP";
    $size
    upstream app {
        least_time header;
        server 127.0.0.1:$first;
        server 127.0.0.1:$second;
$extra    }
    server { listen 127.0.0.1:$first; location / { echo a; } }
    server { listen 127.0.0.1:$second; location / { echo b; } }
    server {
        listen 127.0.0.1:$front;
        location / { proxy_pass http://app; }
    }
HTTP
}

# at start: nginx -t names the directive, the size needed, file and line
my $prefix = tempdir(CLEANUP => 1);
mkdir "$prefix/logs";    # the compiled-in access and error logs of a build
my $load = join '', map { "load_module $_;\n" }
                    split ' ', $ENV{TEST_NGINX_LOAD_MODULES};
OwnNginx::write_file("$prefix/nginx.conf",
    "${load}error_log $prefix/error.log;\npid $prefix/nginx.pid;\n"
    . "events {}\nhttp {\n" . http_block('32k', $many) . "}\n");
my $bin = $ENV{TEST_NGINX_BINARY} || 'nginx';
my $out = `$bin -p $prefix/ -c $prefix/nginx.conf -t 2>&1`;
isnt($?, 0, 'nginx -t refuses 202 servers in a 32k zone');
like($out, qr/"upstream_latency_zone" of 32k holds \d+ peers, but 202 are configured; it needs at least \d+k in \S+nginx\.conf:\d+/,
     'with the size needed, file and line');

# the size it says is enough
my ($needed) = $out =~ /needs at least (\d+)k/;
OwnNginx::write_file("$prefix/nginx.conf",
    "${load}error_log $prefix/error.log;\npid $prefix/nginx.pid;\n"
    . "events {}\nhttp {\n" . http_block("${needed}k", $many) . "}\n");
$out = `$bin -p $prefix/ -c $prefix/nginx.conf -t 2>&1`;
is($?, 0, "the size nginx -t asks for, ${needed}k, is taken") or diag($out);

# worker_processes after the http block, whose in-flight cells are then
# sized for this machine's processors: refused, naming the block's line
OwnNginx::write_file("$prefix/nginx.conf",
    "${load}error_log $prefix/error.log;\npid $prefix/nginx.pid;\n"
    . "events {}\nhttp {\n" . http_block('1m', '') . "}\n"
    . "worker_processes 64;\n");
$out = `$bin -p $prefix/ -c $prefix/nginx.conf -t 2>&1`;
isnt($?, 0, 'nginx -t refuses worker_processes after the http block');
my $http_line = () = $load =~ /\n/g;
$http_line += 4;
like($out, qr/"worker_processes" must come before the "http" block in \S+nginx\.conf:$http_line\b/,
     'naming the http block\'s file and line');

# so many worker processes that their in-flight cells exceed any zone:
# refused before nginx maps the memory (a failed mmap named nothing)
OwnNginx::write_file("$prefix/nginx.conf",
    "${load}error_log $prefix/error.log;\npid $prefix/nginx.pid;\n"
    . "worker_processes 100000000;\n"
    . "events {}\nhttp {\n" . http_block(undef, '') . "}\n");
$out = `$bin -p $prefix/ -c $prefix/nginx.conf -t 2>&1`;
isnt($?, 0, 'nginx -t refuses a table larger than a zone can be');
like($out, qr/the latency table of 2 servers and 100000000 worker processes needs \d+k, more than a zone can have \(1024m\), for the "http" block in \S+nginx\.conf:\d+/,
     'naming the size, the http block\'s file and line');

# at reload: the new configuration is refused, the old one keeps serving
my $nginx = OwnNginx->start(port => $front, http => http_block('1m', ''),
    expected_alerts => qr/\[emerg\] .*"upstream_latency_zone" of 32k/);
my $http = HTTP::Tiny->new(timeout => 5);
ok(!$nginx->reload(http_block('32k', $many)), 'the reload is refused');
like($nginx->error_log, qr/"upstream_latency_zone" of 32k holds \d+ peers, but 202 are configured/,
     'and logged');
my %seen;
for (1 .. 20) {
    my $res = $http->get("http://127.0.0.1:$front/");
    $seen{$res->{success} ? $res->{content} : "error $res->{status}"}++;
}
is_deeply([sort keys %seen], ["a\n", "b\n"],
          'the running configuration still balances over both servers');
$nginx->stop;

alarm 0;
done_testing();
