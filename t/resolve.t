# Servers with "resolve" (nginx 1.27.3 and later): nginx's resolver asks a
# DNS server of the test's own, whose answer the test rewrites.  Resolved
# peers are balanced by latency; an address the name gains gets a slot in
# the table and traffic; one it loses gives its slot back; one that comes
# back finds its statistics.  With two worker processes, each mapping the
# peers to their slots.
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
alarm 120;

my ($front, $backend, $dns) = LatencyTest::free_ports(3);
my $dir = tempdir(CLEANUP => 1);
my $answer = "$dir/backends.test";
UdpBackend::dns(port => $dns, name => 'backends.test', file => $answer);

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

# The status's peers of the upstream, by address 127.0.0.N as N.
sub peers {
    my ($status) = @_;
    my ($app) = grep { $_->{name} eq 'app' } @{ $status->{upstreams} };
    return { map { ($_->{server} =~ /^127\.0\.0\.(\d+):/)[0] => $_ }
             @{ $app->{peers} } };
}

# Waits until nginx has resolved the name to 127.0.0.N for each N;
# returns the status then, or undef after 10 s.
sub wait_for_peers {
    my $want = join ' ', sort @_;
    for (1 .. 100) {
        my $status = status();
        return $status if join(' ', sort keys %{ peers($status) }) eq $want;
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

sub http_block {
    my ($method) = @_;
    return <<"HTTP";
    resolver 127.0.0.1:$dns valid=1s ipv6=off;
    upstream app {
        zone app 64k;
        $method;
        server backends.test:$backend resolve max_fails=0;
    }
    server { listen 127.0.0.2:$backend; location / { echo 2; } }
    server {
        listen 127.0.0.3:$backend;
        location / { echo_sleep 0.1; echo 3; }
    }
    server { listen 127.0.0.4:$backend; location / { echo 4; } }
    server {
        listen 127.0.0.1:$front;
        location / { proxy_pass http://app; }
        location = /status { upstream_latency_status; }
    }
HTTP
}

sub scenario {
    my ($method) = @_;

    resolve_to(2, 3);
    my $nginx = OwnNginx->start(port => $front, workers => 2,
                                http => http_block($method));

    ok(wait_for_peers(2, 3), "$method: the name resolved to 2 addresses");
    my $count = answers(60);
    cmp_ok($count->{2}, '>=', 48,
           "$method: the fast resolved server takes most requests")
        or diag explain $count;

    # a new address: a slot, and traffic
    resolve_to(2, 3, 4);
    my $status = wait_for_peers(2, 3, 4);
    ok($status, "$method: the name gained an address");
    $count = answers(60);
    cmp_ok($count->{4}, '>=', 12, "$method: the new server takes requests")
        or diag explain $count;
    cmp_ok($count->{3}, '<=', 12, "$method: the slow one still few")
        or diag explain $count;
    $status = status();
    my $peers = peers($status);
    is($status->{table}{used}, 3, "$method: 3 slots used");
    is($peers->{4}{requests}, $count->{4},
       "$method: the new server's slot counts its requests");
    my $slow = $peers->{3};

    # an address that leaves gives its slot back
    resolve_to(2, 4);
    ok(wait_for_peers(2, 4), "$method: the name lost an address");
    $count = answers(20);
    is($count->{3}, 0, "$method: no request to the address that left");
    is(status()->{table}{used}, 2, "$method: its slot is free");

    # and finds its statistics when it comes back
    resolve_to(2, 3, 4);
    $status = wait_for_peers(2, 3, 4);
    ok($status, "$method: the address came back");
    $peers = peers($status);
    is($peers->{3}{requests}, $slow->{requests},
       "$method: with its request count");
    is($peers->{3}{responses}{total}, $slow->{responses}{total},
       "$method: and responses");
    $count = answers(10);
    $status = status();
    is($status->{table}{used}, 3, "$method: in a slot again");
    is(peers($status)->{3}{requests}, $slow->{requests} + $count->{3},
       "$method: counting on from there");

    # a reload carries the resolved peers' statistics to the new table
    my $before = peers(status());
    ok($nginx->reload(http_block($method)), "$method: reloaded");
    ok(wait_for_peers(2, 3, 4), "$method: the new workers resolved the name");
    $count = answers(10);
    my $after = peers(status());
    is($after->{$_}{requests}, $before->{$_}{requests} + $count->{$_},
       "$method: 127.0.0.$_ kept its requests over the reload") for 2 .. 4;

    $nginx->stop;
}

SKIP: {
    skip LatencyTest::nginx_least_time(), 21
        if LatencyTest::nginx_least_time();
    scenario('least_time header');
}
scenario('weighted_random two least_time=header');

alarm 0;
done_testing();
