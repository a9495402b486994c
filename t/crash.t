# A worker process killed with requests in flight, one of two workers,
# before and after a reload: its successor takes exactly its requests out
# of the shared gauges (not the other worker's), keeps what was learned,
# and every request after succeeds.
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(sleep);
use lib 't/lib';
use LatencyTest ();
use OwnNginx;
use LatencyTest;

LatencyTest::cannot_run(OwnNginx::missing()) if OwnNginx::missing();
plan skip_all => LatencyTest::nginx_least_time()
    if LatencyTest::nginx_least_time();
$SIG{ALRM} = sub { die "crash.t: out of time\n" };
alarm 90;

# The backends in an nginx of their own, so that killing a worker of the
# front nginx cuts only that worker's requests.  /hang sends its header at
# once and its body 5 s later, on either backend.
my ($front, $fast, $slow) = LatencyTest::free_ports(3);
my $backends = OwnNginx->start(port => $fast, http => <<"HTTP");
    server { listen 127.0.0.1:$fast;
             location /fast { echo_sleep 0.002; echo fast; }
             location /hang { echo fast; echo_flush; echo_sleep 5; } }
    server { listen 127.0.0.1:$slow;
             location / { echo_sleep 0.1; echo slow; }
             location /hang { echo slow; echo_flush; echo_sleep 5; } }
HTTP

# Two workers; reuseport spreads connections over both.  X-Worker names the
# worker that proxies the request, sent with the header, before the body.
my $front_http = <<"HTTP";
    upstream app {
        least_time header;
        server 127.0.0.1:$fast;
        server 127.0.0.1:$slow;
    }
    server {
        listen 127.0.0.1:$front reuseport;
        location / {
            proxy_pass http://app;
            proxy_buffering off;
            add_header X-Worker \$pid;
        }
        location = /upstreams { upstream_latency_status; }
    }
HTTP
my $nginx = OwnNginx->start(port => $front, workers => 2, http => $front_http,
                            expected_alerts => qr/exited on signal 9\b/);

my $http = HTTP::Tiny->new(timeout => 5);

sub peers {
    my $res = $http->get("http://127.0.0.1:$front/upstreams");
    die "status: $res->{status}\n" unless $res->{success};
    return { map { $_->{server} => $_ }
             @{ decode_json($res->{content})->{upstreams}[0]{peers} } };
}

# Requests in flight to either backend.
sub active {
    my $peers = peers();
    return $peers->{"127.0.0.1:$fast"}{active} + $peers->{"127.0.0.1:$slow"}{active};
}

# The fast server looks at least 3 times faster than the slow one: 2 ms
# against 100 ms, with room for a loaded machine (and for the slow one's
# average decaying a little longer than the fast one's).
sub fast_looks_fast {
    my ($f, $s) = map { peers()->{"127.0.0.1:$_"}{header_time} } $fast, $slow;
    return defined $f && defined $s && $f < $s / 3
        || diag "header_time: fast $f ms, slow $s ms";
}

# Polls until $check->() holds, for up to $seconds (default 5).
sub wait_for {
    my ($check, $seconds) = @_;
    for (1 .. ($seconds || 5) * 10) {
        return 1 if $check->();
        sleep 0.1;
    }
    return 0;
}

# Requests to /hang, each left in flight once its header is read, until
# both workers have two or more (at most 20 requests).  Returns
# { worker pid => [sockets] }.
sub hang_on_both_workers {
    my %by_worker;
    while ((keys %by_worker < 2 || grep { @$_ < 2 } values %by_worker)
           && map(@$_, values %by_worker) < 20) {
        my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$front",
                                      Timeout => 2) or die "connect: $!";
        print $s "GET /hang HTTP/1.0\r\n\r\n";
        my $header = '';
        while ($header !~ /\r\n\r\n/) {
            IO::Select->new($s)->can_read(5) or die "no header from /hang\n";
            sysread($s, $header, 4096, length $header) or die "closed\n";
        }
        my ($worker) = $header =~ /^X-Worker: (\d+)\r$/m or die $header;
        push @{ $by_worker{$worker} }, $s;
    }
    return \%by_worker;
}

# Kills the worker with the fewest requests in flight (but some), and
# waits for the master to replace it.  Returns how many it had and how
# many the others have.
sub kill_one {
    my ($hanging) = @_;
    my ($victim, @others) = sort { @{ $hanging->{$a} } <=> @{ $hanging->{$b} } }
                            keys %$hanging;
    ok(kill(KILL => $victim), "worker $victim killed");
    ok(wait_for(sub { my @w = $nginx->worker_pids;
                      @w == 2 && !grep { $_ == $victim } @w }),
       'the master started a new worker');
    return (scalar @{ $hanging->{$victim} },
            scalar map { @{ $hanging->{$_} } } @others);
}

# Number of release messages for $n requests in the error log.
sub releases {
    my ($n) = @_;
    return scalar(() = $nginx->error_log =~
        /upstream latency: $n requests in flight of a worker process that exited were released/g);
}

for (1 .. 10) {
    $http->get("http://127.0.0.1:$front/fast");
}
my $learned = peers()->{"127.0.0.1:$fast"}{requests};
ok(fast_looks_fast(), 'the fast server learned fast');

for my $when ('before a reload', 'after a reload') {
    my $hanging = hang_on_both_workers();
    my $in_flight = map { @$_ } values %$hanging;
    ok(wait_for(sub { active() == $in_flight }),
       "$when: $in_flight requests in flight on both workers")
        or diag 'active: ' . active();
    my %logged = map { $_ => releases($_) } 1 .. $in_flight;
    my ($killed, $kept) = kill_one($hanging);
    ok(wait_for(sub { active() == $kept }),
       "$when: the $killed requests of the killed worker were released, "
       . "the $kept of the other were not") or diag 'active: ' . active();
    ok(releases($killed) == $logged{$killed} + 1,
       "$when: the release of $killed is logged");
    my $now = peers()->{"127.0.0.1:$fast"};
    ok(defined $now->{header_time} && $now->{requests} >= $learned,
       "$when: what was learned is kept (an average, the counters)");
    ok(wait_for(sub { active() == 0 }, 10),
       "$when: the other worker's requests leave when they end");
    ok($nginx->reload($front_http), 'reload') if $when =~ /before/;
}

my $ok = 0;
for (1 .. 20) {
    my $res = $http->get("http://127.0.0.1:$front/fast");
    $ok++ if $res->{success};
}
is($ok, 20, 'every request after the crashes succeeds');

$nginx->stop;
$backends->stop;
alarm 0;
done_testing();
