# Servers with "resolve" (nginx 1.27.3 and later): nginx's resolver asks a
# DNS server of the test's own, whose answer the test rewrites.  Resolved
# peers are balanced by latency; an address the name gains gets a slot in
# the table and traffic; one it loses gives its slot back; one that comes
# back finds its statistics; a reload keeps them.  With two worker
# processes, each mapping the peers to their slots; for an http upstream,
# and for a stream one (reached through http, as in t/stream-*.t).
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use File::Temp qw(tempdir);
use Time::HiRes qw(sleep time);
use lib 't/lib';
use LatencyTest ();
use OwnNginx;
use UdpBackend;
use LatencyTest;

LatencyTest::cannot_run(OwnNginx::missing()) if OwnNginx::missing();
plan skip_all => LatencyTest::nginx_no_resolve()
    if LatencyTest::nginx_no_resolve();
$SIG{ALRM} = sub { die "resolve.t: out of time\n" };
alarm 180;

my ($front, $backend, $dns, $stream) = LatencyTest::free_ports(4);
my $dir = tempdir(CLEANUP => 1);
my $answer = "$dir/backends.test";
UdpBackend::dns(port => $dns, names => {'backends.test' => $answer});

my $http = HTTP::Tiny->new(timeout => 5);

# The name's addresses from now on: 127.0.0.N for each N.
sub resolve_to {
    OwnNginx::write_file($answer, join '', map { "127.0.0.$_\n" } @_);
}

sub status {
    my $res = $http->get("http://127.0.0.1:$front/status");
    die "status: $res->{status}\n" unless $res->{success};
    return decode_json($res->{content});
}

# What the status shows of the http or stream block.
my %block = (http => sub { $_[0] }, stream => sub { $_[0]{stream} });
my $proto = 'http';

# The status's peers of the upstream, by address 127.0.0.N as N.
sub peers {
    my ($status) = @_;
    my ($app) = grep { $_->{name} eq 'app' }
                @{ $block{$proto}->($status)->{upstreams} };
    return { map { ($_->{server} =~ /^127\.0\.0\.(\d+):/)[0] => $_ }
             @{ $app->{peers} } };
}

# Waits until nginx has resolved the name to 127.0.0.N for each N;
# returns the status then, or undef after 10 s.
sub wait_for_peers {
    my $want = join ' ', sort @_;
    for (1 .. 100) {
        my $status = status();
        return $status if ($block{$proto}->($status) // {})->{upstreams}
                          && join(' ', sort keys %{ peers($status) }) eq $want;
        sleep 0.1;
    }
    return undef;
}

# $n requests one after another; the count of each backend's answers.
sub answers {
    my ($n) = @_;
    my %count = map { $_ => 0 } 2 .. 4;
    for (1 .. $n) {
        my $res = $http->get("http://127.0.0.1:$front/");
        $count{$res->{success} ? $res->{content} =~ s/\s+//gr
                               : "error $res->{status}"}++;
    }
    return \%count;
}

# 12 requests started at once (as from many clients under load), through
# echo_location_async; the count of each backend's answers.
sub burst {
    my $res = $http->get("http://127.0.0.1:$front/burst");
    die "burst: $res->{status}\n" unless $res->{success};
    my %count = map { $_ => 0 } 5 .. 7;
    $count{$_}++ for $res->{content} =~ /(\d+)/g;
    return \%count;
}

# The upstream app in the http or the stream block, with $method and the
# directives $more.
sub upstream {
    my ($method, $more) = @_;
    $more //= '';
    return <<"UPSTREAM";
    resolver 127.0.0.1:$dns valid=1s ipv6=off;
    upstream app {
        zone app 64k;
        $method;
        $more
        server backends.test:$backend resolve max_fails=0;
    }
UPSTREAM
}

sub stream_block {
    my ($method, $more) = @_;
    return '' unless $proto eq 'stream';
    return "stream {\n" . upstream($method, $more)
           . "    server { listen 127.0.0.1:$stream; proxy_pass app; }\n}\n";
}

sub http_block {
    my ($method, $more) = @_;
    my $app = $proto eq 'http' ? upstream($method, $more) : '';
    my $to = $proto eq 'http' ? 'app' : "127.0.0.1:$stream";
    my $burst = "echo_location_async /;\n" x 12;
    my $alike = join '', map { <<"ALIKE" } 5 .. 7;
    server {
        listen 127.0.0.$_:$backend;
        location / { echo_sleep 0.05; echo $_; }
    }
ALIKE
    return <<"HTTP";
$app
    server {
        listen 127.0.0.2:$backend;
        location / { echo_sleep 0.02; echo 2; }
    }
    server {
        listen 127.0.0.3:$backend;
        location / { echo_sleep 0.15; echo 3; }
    }
    server { listen 127.0.0.4:$backend; location / { echo 4; } }
$alike
    server {
        listen 127.0.0.1:$front;
        location / { proxy_pass http://$to; }
        location = /burst { $burst }
        location = /status { upstream_latency_status; }
    }
HTTP
}

# What counts a peer's attempts, and its answers.
my %requests = (http => 'requests', stream => 'connections');
sub answered {
    my ($peer) = @_;
    return $proto eq 'http' ? $peer->{responses}{total} : $peer->{received};
}

# Slots and choice; without slow start, which keeps a new address from
# its first requests while the others are idle (see joining).
sub scenario {
    ($proto, my $method) = @_;
    my $requests = $requests{$proto};
    my $name = "$proto $method";
    my $more = 'upstream_latency_slow_start off;';

    resolve_to(2, 3);
    my $nginx = OwnNginx->start(port => $front, workers => 2,
                                main => stream_block($method, $more),
                                http => http_block($method, $more));

    ok(wait_for_peers(2, 3), "$name: the name resolved to 2 addresses");
    my $count = answers(60);
    cmp_ok($count->{2}, '>=', 48,
           "$name: the faster resolved server takes most requests")
        or diag explain $count;

    # a new address: a slot, and traffic
    resolve_to(2, 3, 4);
    my $status = wait_for_peers(2, 3, 4);
    ok($status, "$name: the name gained an address");
    $count = answers(60);
    cmp_ok($count->{4}, '>=', 30,
           "$name: the new server, the fastest, takes half or more")
        or diag explain $count;
    cmp_ok($count->{3}, '<=', 12, "$name: the slow one still few")
        or diag explain $count;
    $status = status();
    my $peers = peers($status);
    is($block{$proto}->($status)->{table}{used}, 3, "$name: 3 slots used");
    is($peers->{4}{$requests}, $count->{4},
       "$name: the new server's slot counts its requests");
    my $slow = $peers->{3};

    # an address that leaves gives its slot back
    resolve_to(2, 4);
    ok(wait_for_peers(2, 4), "$name: the name lost an address");
    $count = answers(20);
    is($count->{3}, 0, "$name: no request to the address that left");
    is($block{$proto}->(status())->{table}{used}, 2,
       "$name: its slot is free");

    # and finds its statistics when it comes back
    resolve_to(2, 3, 4);
    $status = wait_for_peers(2, 3, 4);
    ok($status, "$name: the address came back");
    $peers = peers($status);
    is($peers->{3}{$requests}, $slow->{$requests},
       "$name: with its count of $requests");
    is(answered($peers->{3}), answered($slow), "$name: and of answers");
    $count = answers(10);
    $status = status();
    is($block{$proto}->($status)->{table}{used}, 3,
       "$name: in a slot again");
    is(peers($status)->{3}{$requests}, $slow->{$requests} + $count->{3},
       "$name: counting on from there");

    # a reload carries the resolved peers' statistics to the new table
    my $before = peers(status());
    ok($nginx->reload(http_block($method, $more)), "$name: reloaded");
    ok(wait_for_peers(2, 3, 4), "$name: the new workers resolved the name");
    $count = answers(10);
    my $after = peers(status());
    is($after->{$_}{$requests}, $before->{$_}{$requests} + $count->{$_},
       "$name: 127.0.0.$_ kept its $requests over the reload") for 2 .. 4;

    $nginx->stop;
}

# Slow start of the addresses a name gains, over 2 s: 5, 6 and 7 answer
# alike in 50 ms.  Of a burst of 12 requests at once, 7 gets one or two,
# new or back after its average faded (a half-life of 250 ms) while it was
# away; not in slow start, it would score best and take most of them.
sub joining {
    ($proto, my $method) = @_;
    my $name = "$proto $method";
    my $more = 'upstream_latency_slow_start 2s; '
               . 'upstream_latency_half_life 250ms;';

    resolve_to(5, 6);
    my $nginx = OwnNginx->start(port => $front, workers => 2,
                                main => stream_block($method, $more),
                                http => http_block($method, $more));
    ok(wait_for_peers(5, 6), "$name: the name resolved to 2 addresses");
    answers(10);

    resolve_to(5, 6, 7);
    ok(wait_for_peers(5, 6, 7), "$name: the name gained an address");
    my $count = burst();
    cmp_ok($count->{7}, '<=', 2,
           "$name: the new address, in slow start, gets 2 of 12 at most")
        or diag explain $count;

    # out of slow start and measured, away while the others answer, back
    sleep 2;
    $count = answers(12);
    cmp_ok($count->{7} // 0, '>=', 1, "$name: out of slow start, measured")
        or diag explain $count;
    resolve_to(5, 6);
    ok(wait_for_peers(5, 6), "$name: the name lost the address");
    answers(30);
    resolve_to(5, 6, 7);
    ok(wait_for_peers(5, 6, 7), "$name: the address came back");
    $count = burst();
    cmp_ok($count->{7}, '<=', 2,
           "$name: back, in slow start again, it gets 2 of 12 at most")
        or diag explain $count;

    $nginx->stop;
}

SKIP: {
    skip LatencyTest::nginx_least_time(), 56
        if LatencyTest::nginx_least_time();
    scenario(http => 'least_time header');
    scenario(stream => 'least_time first_byte');
    joining(http => 'least_time header');
    joining(stream => 'least_time first_byte');
}
scenario(http => 'weighted_random two least_time=header');
scenario(stream => 'weighted_random two least_time=first_byte');
joining(http => 'weighted_random two least_time=header');
joining(stream => 'weighted_random two least_time=first_byte');

alarm 0;
done_testing();
