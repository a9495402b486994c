# A worker process killed with requests in flight: its successor takes them
# out of the shared gauges, keeps what was learned, and serves every request.
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(sleep);
use lib 't/lib';
use OwnNginx;
use LatencyTest;

plan skip_all => OwnNginx::missing() if OwnNginx::missing();
plan skip_all => LatencyTest::nginx_least_time()
    if LatencyTest::nginx_least_time();
$SIG{ALRM} = sub { die "crash.t: out of time\n" };
alarm 60;

my $nginx = OwnNginx->start(port => 1960, workers => 1, http => <<'HTTP');
    upstream app {
        least_time header;
        server 127.0.0.1:1961;
        server 127.0.0.1:1962;
    }
    server { listen 127.0.0.1:1961;
             location /fast { echo_sleep 0.002; echo 1961; }
             location /hang { echo_sleep 5; echo 1961; } }
    server { listen 127.0.0.1:1962;
             location / { echo_sleep 0.02; echo 1962; } }
    server {
        listen 127.0.0.1:1960;
        location / { proxy_pass http://app; }
        location = /upstreams { upstream_latency_status; }
    }
HTTP

my $http = HTTP::Tiny->new(timeout => 5);

sub peers {
    my $res = $http->get('http://127.0.0.1:1960/upstreams');
    die "status: $res->{status}\n" unless $res->{success};
    return { map { $_->{server} => $_ }
             @{ decode_json($res->{content})->{upstreams}[0]{peers} } };
}

for (1 .. 10) {
    $http->get('http://127.0.0.1:1960/fast');
}
my $learned = peers()->{'127.0.0.1:1961'};
ok($learned->{header_time} < 10, '1961 learned fast')
    or diag "header_time $learned->{header_time}";

# three requests left hanging on 1961
my @hanging = map {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:1960', Timeout => 2)
        or die "connect: $!";
    print $s "GET /hang HTTP/1.0\r\n\r\n";
    sleep 0.1;
    $s;
} 1 .. 3;
sleep 0.2;
is(peers()->{'127.0.0.1:1961'}{active}, 3, 'three requests in flight');

my ($worker) = $nginx->worker_pids;
ok(kill(KILL => $worker), "worker $worker killed");
my @now;
for (1 .. 50) {
    @now = grep { $_ != $worker } $nginx->worker_pids;
    last if @now;
    sleep 0.1;
}
is(scalar @now, 1, 'the master started a new worker');
sleep 0.2;

my $after = peers()->{'127.0.0.1:1961'};
is($after->{active}, 0, 'its requests in flight were released');
like($nginx->error_log,
     qr/upstream latency: 3 requests in flight of a worker process that exited were released/,
     'the release is logged');
ok($after->{requests} >= $learned->{requests} + 3,
   'the counters learned before the crash are kept');
ok(defined $after->{header_time} && $after->{header_time} < 10,
   'so is what was learned: 1961 is still fast');

my $ok = 0;
for (1 .. 20) {
    my $res = $http->get('http://127.0.0.1:1960/fast');
    $ok++ if $res->{success};
}
is($ok, 20, 'every request after the crash succeeds');
unlike($nginx->error_log, qr/\[alert\].*(?:locked|shmtx)/, 'nothing left locked');

close $_ for @hanging;
alarm 0;
done_testing();
