# A backend stopped under load: its requests are retried on the others, it
# stops being chosen, and once started again it gets traffic again.  With
# max_fails=0 nginx never marks it failed: it is avoided only because its
# failures count as slow responses (round robin would keep sending it a
# third of the requests).
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(sleep time);
use lib 't/lib';
use LatencyTest ();
use OwnNginx;
use LatencyTest;

LatencyTest::cannot_run(OwnNginx::missing()) if OwnNginx::missing();
plan skip_all => LatencyTest::nginx_least_time()
    if LatencyTest::nginx_least_time();
LatencyTest::require_programs('/usr/bin/wrk');
$SIG{ALRM} = sub { die "backend-failure.t: out of time\n" };
alarm 60;

# backends answer 1941, 1942 and 1943 (the labels wrk counts)
my ($front, @port) = LatencyTest::free_ports(4);
my $nginx = OwnNginx->start(port => $front, workers => 2, http => <<"HTTP");
    upstream app {
        least_time header;
        server 127.0.0.1:$port[0] max_fails=0 fail_timeout=2s;
        server 127.0.0.1:$port[1] max_fails=0 fail_timeout=2s;
        server 127.0.0.1:$port[2] max_fails=0 fail_timeout=2s;
    }
    server { listen 127.0.0.1:$port[0]; location / { echo_sleep 0.02; echo 1941; } }
    server { listen 127.0.0.1:$port[1]; location / { echo_sleep 0.02; echo 1942; } }
    server {
        listen 127.0.0.1:$front;
        location / {
            proxy_pass http://app;
            proxy_next_upstream error timeout;
            proxy_connect_timeout 1s;
        }
        location = /upstreams { upstream_latency_status; }
    }
HTTP

# 1943 in an nginx of its own, to stop and start it alone.
sub backend {
    OwnNginx->start(port => $port[2], http => <<"HTTP");
    server { listen 127.0.0.1:$port[2]; location / { echo_sleep 0.02; echo 1943; } }
HTTP
}
my $backend = backend();

my $http = HTTP::Tiny->new(timeout => 5);

sub peer_1943 {
    my $res = $http->get("http://127.0.0.1:$front/upstreams");
    die "status: $res->{status}\n" unless $res->{success};
    my ($peer) = grep { $_->{server} eq "127.0.0.1:$port[2]" }
                 @{ decode_json($res->{content})->{upstreams}[0]{peers} };
    return $peer;
}

my $start = time;
sub at { my $wait = $start + shift() - time; sleep $wait if $wait > 0 }

# wrk for 13 s, a connection per request (bench/count.lua: one per thread)
open my $wrk, '-|', 'timeout', '-k', '5', '30', '/usr/bin/wrk',
    '-t', 3, '-c', 3, '-d', '13s', '--timeout', '5s',
    '-H', 'Connection: close', '-s', 'bench/count.lua',
    "http://127.0.0.1:$front/", '--', 'count'
    or die "wrk: $!";

at(3);
my $up = peer_1943();
ok($up->{requests} > 0, '1943 takes requests while it runs')
    or diag "requests $up->{requests}";

$backend->stop;
my $stopped = time;

# Its first failure counts as a 2 s response (fail_timeout), which takes
# about 5.5 s to decay to the others' 20-40 ms: from 0.5 s to 3.5 s after
# the stop it gets no request (at most 2 allowed, for attempts already on
# their way); round robin would send it a third of them, about 100.
# Attempts are counted in the error log, as refused connections to it.
at($stopped - $start + 0.5);
my $log_from = length $nginx->error_log;
at($stopped - $start + 3.5);
my $attempts = () = substr($nginx->error_log, $log_from)
    =~ /connect\(\) failed .*upstream: "http:\/\/127\.0\.0\.1:$port[2]\//g;
ok($attempts <= 2,
   'the stopped backend is no longer chosen, though nginx never marks it failed')
    or diag "$attempts attempts";
my $later = peer_1943();
ok($later->{fails} > $up->{fails}, 'its failures were counted')
    or diag "fails $up->{fails} then $later->{fails}";

# Started again 3.5 s after the stop, it is chosen again once its 2 s
# decays to about the others' 20-40 ms: 5-5.5 s after its failure, 2 s
# after the restart.
$backend = backend();
my $restarted = time;
my $before = peer_1943();
my $back;
while (time < $restarted + 5) {
    sleep 0.25;
    my $now = peer_1943();
    next unless $now->{requests} > $before->{requests}
                && $now->{responses}{'2xx'} > $before->{responses}{'2xx'};
    $back = time - $restarted;
    last;
}
ok(defined $back, 'started again, it answers requests again within 5 s')
    and diag sprintf 'back after %.2f s', $back;

my $text = do { local $/; <$wrk> };
close $wrk;
my %result = $text =~ /^\@result (\S+) (\S+)$/mg;
my %backend = $text =~ /^\@backend (\S+) (\d+)$/mg;
diag "wrk: $result{requests} requests, "
     . join ', ', map { "$_: $backend{$_}" } sort keys %backend;
ok($result{requests} > 0, 'wrk ran');
is(join(' ', map { $result{"errors_$_"} } qw(connect read write timeout)),
   '0 0 0 0', 'no socket error');
is_deeply([grep { !/^194[123]$/ } keys %backend], [],
          'every response is a 200 from a backend');

$backend->stop;
$nginx->stop;
alarm 0;
done_testing();
