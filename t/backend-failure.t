# A backend stopped under load: its requests are retried on the others, it
# stops being chosen, and once started again it gets traffic again.
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(sleep time);
use lib 't/lib';
use OwnNginx;
use LatencyTest;

plan skip_all => OwnNginx::missing() if OwnNginx::missing();
plan skip_all => LatencyTest::nginx_least_time()
    if LatencyTest::nginx_least_time();
plan skip_all => 'no /usr/bin/wrk' unless -x '/usr/bin/wrk';
$SIG{ALRM} = sub { die "backend-failure.t: out of time\n" };
alarm 60;

my $nginx = OwnNginx->start(port => 1940, workers => 2, http => <<'HTTP');
    upstream app {
        least_time header;
        server 127.0.0.1:1941 max_fails=1 fail_timeout=2s;
        server 127.0.0.1:1942 max_fails=1 fail_timeout=2s;
        server 127.0.0.1:1943 max_fails=1 fail_timeout=2s;
    }
    server { listen 127.0.0.1:1941; location / { echo_sleep 0.02; echo 1941; } }
    server { listen 127.0.0.1:1942; location / { echo_sleep 0.02; echo 1942; } }
    server {
        listen 127.0.0.1:1940;
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
    OwnNginx->start(port => 1943, http => <<'HTTP');
    server { listen 127.0.0.1:1943; location / { echo_sleep 0.02; echo 1943; } }
HTTP
}
my $backend = backend();

my $http = HTTP::Tiny->new(timeout => 5);

sub peer_1943 {
    my $res = $http->get('http://127.0.0.1:1940/upstreams');
    die "status: $res->{status}\n" unless $res->{success};
    my ($peer) = grep { $_->{server} eq '127.0.0.1:1943' }
                 @{ decode_json($res->{content})->{upstreams}[0]{peers} };
    return $peer;
}

my $start = time;
sub at { my $wait = $start + shift() - time; sleep $wait if $wait > 0 }

# wrk for 13 s, a connection per request (bench/count.lua: one per thread)
open my $wrk, '-|', 'timeout', '-k', '5', '30', '/usr/bin/wrk',
    '-t', 3, '-c', 3, '-d', '13s', '--timeout', '5s',
    '-H', 'Connection: close', '-s', 'bench/count.lua',
    'http://127.0.0.1:1940/', '--', 'count'
    or die "wrk: $!";

at(3);
my $up = peer_1943();
ok($up->{requests} > 0, '1943 takes requests while it runs')
    or diag "requests $up->{requests}";

$backend->stop;
my $stopped = time;

# From its fail_timeout (2 s) after the stop, the dead peer gets at most one
# probe per worker per fail_timeout (max_fails=1, as with round robin), so
# at most 2 (2 workers) over the next 1.5 s; left in the choice, it would
# get a third of the requests, about 60.  (In fact it gets none: its failure
# counts as a 2 s response, which takes about 5 s to decay to the others'.)
at($stopped - $start + 2);
my $dead = peer_1943();
at($stopped - $start + 3.5);
my $later = peer_1943();
ok($later->{requests} - $dead->{requests} <= 2,
   'the stopped backend is no longer chosen after its fail_timeout')
    or diag "requests $dead->{requests} then $later->{requests}";
ok($later->{fails} > $up->{fails}, 'its failures were counted')
    or diag "fails $up->{fails} then $later->{fails}";

# Started again 3.5 s after the stop, it is chosen again once its 2 s
# decays to about the others' 20-40 ms: 4.5-5.5 s after its failure here.
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

unlike($nginx->error_log, qr/\[(?:alert|emerg|crit)\]/, 'no alert in the log');
$backend->stop;
$nginx->stop;
alarm 0;
done_testing();
