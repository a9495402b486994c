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
use LatencyTest ();
use OwnNginx;

LatencyTest::cannot_run(OwnNginx::missing()) if OwnNginx::missing();
$SIG{ALRM} = sub { die "crash.t: out of time\n" };
alarm 60;

my ($front, $fast, $slow) = LatencyTest::free_ports(3);
my $nginx = OwnNginx->start(port => $front, workers => 1,
                            expected_alerts => qr/exited on signal 9\b/,
                            http => <<"HTTP");
    upstream app {
        least_time header;
        server 127.0.0.1:$fast;
        server 127.0.0.1:$slow;
    }
    server { listen 127.0.0.1:$fast;
             location /fast { echo_sleep 0.002; echo fast; }
             location /hang { echo_sleep 5; echo fast; } }
    server { listen 127.0.0.1:$slow;
             location / { echo_sleep 0.1; echo slow; } }
    server {
        listen 127.0.0.1:$front;
        location / { proxy_pass http://app; }
        location = /upstreams { upstream_latency_status; }
    }
HTTP

my $http = HTTP::Tiny->new(timeout => 5);

sub peers {
    my $res = $http->get("http://127.0.0.1:$front/upstreams");
    die "status: $res->{status}\n" unless $res->{success};
    return { map { $_->{server} => $_ }
             @{ decode_json($res->{content})->{upstreams}[0]{peers} } };
}

# The fast server looks at least 3 times faster than the slow one: 2 ms
# against 100 ms, with room for a loaded machine (and for the slow one's
# average decaying a little longer than the fast one's).
sub fast_looks_fast {
    my ($peers) = @_;
    my ($f, $s) = map { $peers->{"127.0.0.1:$_"}{header_time} } $fast, $slow;
    return defined $f && defined $s && $f < $s / 3
        || diag "header_time: fast $f ms, slow $s ms";
}

# Polls the status until $check->(peers) holds, for up to 5 s.
sub wait_for {
    my ($check) = @_;
    for (1 .. 50) {
        return 1 if $check->(peers());
        sleep 0.1;
    }
    return 0;
}

for (1 .. 10) {
    $http->get("http://127.0.0.1:$front/fast");
}
my $learned = peers()->{"127.0.0.1:$fast"};
ok(fast_looks_fast(peers()), 'the fast server learned fast');

# three requests left hanging on the fast server
my @hanging = map {
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$front", Timeout => 2)
        or die "connect: $!";
    print $s "GET /hang HTTP/1.0\r\n\r\n";
    $s;
} 1 .. 3;
ok(wait_for(sub { $_[0]{"127.0.0.1:$fast"}{active} == 3 }),
   'three requests in flight');

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

my $after = peers()->{"127.0.0.1:$fast"};
is($after->{active}, 0, 'its requests in flight were released');
like($nginx->error_log,
     qr/upstream latency: 3 requests in flight of a worker process that exited were released/,
     'the release is logged');
ok($after->{requests} >= $learned->{requests} + 3,
   'the counters learned before the crash are kept');
ok(fast_looks_fast(peers()),
   'so is what was learned: the fast server is still fast');

my $ok = 0;
for (1 .. 20) {
    my $res = $http->get("http://127.0.0.1:$front/fast");
    $ok++ if $res->{success};
}
is($ok, 20, 'every request after the crash succeeds');
close $_ for @hanging;
$nginx->stop;
alarm 0;
done_testing();
