# A server back from failure (max_fails) joins again: its ramp starts when
# nginx tries it again, and until it answers, what the table holds of it
# (the failure's penalty, decayed) does not make it look fast.
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use POSIX qw(floor);
use Time::HiRes qw(sleep time);
use lib 't/lib';
use LatencyTest ();
use OwnNginx;

LatencyTest::cannot_run(OwnNginx::missing()) if OwnNginx::missing();
plan skip_all => LatencyTest::nginx_least_time()
    if LatencyTest::nginx_least_time();
$SIG{ALRM} = sub { die "slow-start-failure.t: out of time\n" };
alarm 120;

# Server A answers in 50 ms, B (max_fails=1 fail_timeout=1s) in 10 ms
# until it is stopped, then in 50 ms; the default slow start of 1 s.  A
# half-life of 50 ms lets B's failure penalty (1 s) fade within a second.
# /t sends 12 requests at once.  Choices are traced in logs/debug.log.
sub upstream_nginx {
    my (%args) = @_;
    my $burst = "echo_location_async /app;\n" x 12;
    return OwnNginx->start(port => $args{front}, workers => $args{workers},
                           http => <<"HTTP");
    error_log logs/error.log info;
    error_log logs/debug.log debug;
    upstream app {
        least_time header;
        upstream_latency_half_life 50ms;
        server 127.0.0.1:$args{a};
        server 127.0.0.1:$args{b} max_fails=1 fail_timeout=1s;
    }
    server { listen 127.0.0.1:$args{a}; location / { echo_sleep 0.05; echo A; } }
    server {
        listen 127.0.0.1:$args{front};
        keepalive_requests 10000;
        keepalive_timeout 60s;
        location = /app {
            proxy_pass http://app;
            proxy_next_upstream error timeout;
            proxy_connect_timeout 1s;
        }
        location = /t { $burst }
        location = /pid { return 200 \$pid; }
    }
HTTP
}

sub server_b {
    my ($port, $delay) = @_;
    return OwnNginx->start(port => $port, http =>
        "server { listen 127.0.0.1:$port; "
        . "location / { echo_sleep $delay; echo B; } }");
}

sub get {
    my ($client, $front, $uri) = @_;
    my $res = $client->get("http://127.0.0.1:$front$uri");
    die "GET $uri: $res->{status}\n" unless $res->{success};
    return $res->{content};
}

sub count_b {
    my ($body) = @_;
    my $b = () = $body =~ /^B$/mg;
    return $b;
}

sub wait_until {
    my ($at) = @_;
    my $left = $at - time;
    sleep $left if $left > 0;
}

# B, the faster, takes the requests; stopped, it refuses one early in a
# second (nginx counts fail_timeout from that whole second) and nginx takes
# it out; it starts again, as fast as A.  Returns the failure's time.
sub fail_b {
    my ($nginx, $client, $front, $b_port) = @_;
    my $b = server_b($b_port, 0.01);
    get($client, $front, '/app') for 1 .. 8;
    $b->stop;
    wait_until(floor(time) + 1.005);
    my $failed = time;
    get($client, $front, '/app');
    like($nginx->error_log, qr/upstream server temporarily disabled/,
         'B refused a request and nginx took it out');
    return ($failed, server_b($b_port, 0.05));
}

subtest 'the ramp starts when nginx tries the server again' => sub {
    my ($front, $a, $b_port) = LatencyTest::free_ports(3);
    my $nginx = upstream_nginx(front => $front, a => $a, b => $b_port,
                               workers => 1);
    my $client = HTTP::Tiny->new(timeout => 5);
    my ($failed, $b) = fail_b($nginx, $client, $front, $b_port);

    # nginx tries B again from the second after fail_timeout on, a second
    # after fail_timeout from the failure itself: the first burst then
    # sends nginx's one try to B, the next meets B at the start of its ramp
    wait_until(floor($failed) + 2.03);
    my $tried = count_b(get($client, $front, '/t'));
    is($tried, 1, 'nginx tries B again with one request of a burst');
    my $debug_log = "$nginx->{prefix}/logs/debug.log";
    my $logged = length OwnNginx::read_file($debug_log);
    my $after = count_b(get($client, $front, '/t'));
    my $trace = substr OwnNginx::read_file($debug_log), $logged;
    like($trace, qr/least time peer 127\.0\.0\.1:$b_port in slow start at 0\./,
         'after that try, B is in slow start');
    diag "B took $after of the next burst of 12";

    $b->stop;
    $nginx->stop;
};

subtest 'until it answers, a decayed penalty is no measure' => sub {
    my ($front, $a, $b_port) = LatencyTest::free_ports(3);
    my $nginx = upstream_nginx(front => $front, a => $a, b => $b_port,
                               workers => 2);

    # a keep-alive connection to each worker: X sees B fail, Y does not
    my %client;
    for (1 .. 50) {
        my $client = HTTP::Tiny->new(timeout => 5, keep_alive => 1);
        $client{get($client, $front, '/pid')} //= $client;
        last if keys %client == 2;
    }
    is(scalar keys %client, 2, 'a connection to each worker')
        or return;
    my ($x, $y) = @client{sort keys %client};
    my ($failed, $b) = fail_b($nginx, $x, $front, $b_port);

    # X serves (the upstream's estimates age) until just before it would
    # try B again; its ramp is over 2 s after the failure.  Y, whose round
    # robin never took B out, has no try to make: only the table tells it
    # of B, which has not answered since.  Measured, B and A tie.
    get($x, $front, '/app') while time < floor($failed) + 1.9;
    wait_until($failed + 2.3);
    my $b_took = count_b(get($y, $front, '/t'));
    ok($b_took <= 8, "B, not measured since it failed, takes $b_took of 12 "
                     . "(as fast as A: at most 8)");

    $b->stop;
    $nginx->stop;
};

alarm 0;
done_testing();
