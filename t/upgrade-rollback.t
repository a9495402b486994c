# A binary upgrade rolled back as nginx documents it (USR2, WINCH to the
# old master, HUP to it, QUIT to the new one), with a request in flight in
# the old master's worker as it shuts down.  The HUP makes the old master
# start workers with its configuration as it is: the same table, and the
# worker numbers of the old workers that still finish their requests.
# Before, the new worker cleared the old one's in-flight cells as a dead
# worker's; the old request's end then took the count below zero, the
# server looked busy with 4294967295 requests and took none.
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(sleep time);
use File::Temp ();
use lib 't/lib';
use LatencyTest ();
use OwnNginx;

LatencyTest::cannot_run(OwnNginx::missing()) if OwnNginx::missing();
plan skip_all => LatencyTest::nginx_least_time()
    if LatencyTest::nginx_least_time();
$SIG{ALRM} = sub { die "upgrade-rollback.t: out of time\n" };
alarm 90;

my ($front, $b1, $b2) = LatencyTest::free_ports(3);
my $backends = OwnNginx->start(port => $b1, http => <<"HTTP");
    server { listen 127.0.0.1:$b1;
             location / { echo_sleep 0.002; echo one; }
             location /hang { echo one; echo_flush; echo_sleep 4; echo end; } }
    server { listen 127.0.0.1:$b2;
             location / { echo_sleep 0.002; echo two; }
             location /hang { echo two; echo_flush; echo_sleep 4; echo end; } }
HTTP

# The front nginx daemonized (nginx ignores USR2 in a master whose parent
# is the one that started it), in a prefix of its own.
my $front_http = <<"HTTP";
    upstream app {
        least_time header;
        server 127.0.0.1:$b1;
        server 127.0.0.1:$b2;
    }
    server {
        listen 127.0.0.1:$front;
        location / { proxy_pass http://app; proxy_buffering off; }
        location = /upstreams { upstream_latency_status; }
    }
HTTP
# The new binary gets only the environment "env" keeps: the runtime of the
# sanitizer build (make check-sanitizers) follows it there.
my $nginx = bless { prefix => File::Temp::tempdir(CLEANUP => 1), workers => 1,
                    master => 1,
                    main => "env LD_PRELOAD;\nenv ASAN_OPTIONS;\n",
                    modules => join '', map { "load_module $_;\n" }
                        split ' ', $ENV{TEST_NGINX_LOAD_MODULES} }, 'OwnNginx';
my $prefix = $nginx->{prefix};
mkdir "$prefix/$_" for qw(logs temp);
$nginx->write_conf($front_http);
{
    my $conf = OwnNginx::read_file("$prefix/nginx.conf");
    $conf =~ s/daemon off;/daemon on;/;
    OwnNginx::write_file("$prefix/nginx.conf", $conf);
}
system($ENV{TEST_NGINX_BINARY}, '-p', "$prefix/", '-c', "$prefix/nginx.conf") == 0
    or die "nginx did not start\n";
my $old;
for (1 .. 50) {
    ($old) = OwnNginx::read_file("$prefix/logs/nginx.pid") =~ /^(\d+)/;
    last if $old && IO::Socket::INET->new(PeerAddr => "127.0.0.1:$front", Timeout => 1);
    sleep 0.1;
}
$nginx->{pid} = 0;   # not our child: stopped below by signals
END { kill TERM => $old if $old }
my $http = HTTP::Tiny->new(timeout => 5);

sub peers {
    my $res = $http->get("http://127.0.0.1:$front/upstreams");
    die "status: $res->{status}\n" unless $res->{success};
    return { map { $_->{server} => $_ }
             @{ decode_json($res->{content})->{upstreams}[0]{peers} } };
}
sub wait_for {
    my ($check, $seconds) = @_;
    for (1 .. ($seconds || 5) * 20) { return 1 if $check->(); sleep 0.05; }
    return 0;
}
sub cmdline { OwnNginx::read_file("/proc/$_[0]/cmdline") }

$http->get("http://127.0.0.1:$front/x") for 1 .. 10;

# a request in flight in the old master's worker
my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$front", Timeout => 2)
    or die "connect: $!";
print $s "GET /hang HTTP/1.0\r\n\r\n";
my $buf = '';
while ($buf !~ /\r\n\r\n/) {
    IO::Select->new($s)->can_read(5) or die "no header\n";
    sysread($s, $buf, 4096, length $buf) or die "closed\n";
}
my ($busy) = grep { peers()->{$_}{active} == 1 } keys %{ peers() };
ok($busy, "one request in flight, on $busy");

# USR2: a new master (new binary) starts
kill USR2 => $old;
my $new;
ok(wait_for(sub {
       ($new) = grep { cmdline($_) =~ /master process/ } OwnNginx::children_of($old);
       $new && OwnNginx::children_of($new) >= 1 }), 'new master and its worker run')
    or BAIL_OUT("no new master:\n" . $nginx->error_log);
# WINCH: the old master's worker shuts down gracefully (request in flight)
kill WINCH => $old;
ok(wait_for(sub { grep { cmdline($_) =~ /shutting down/ } OwnNginx::children_of($old) }),
   'old worker shutting down, still finishing its request');
# rollback: HUP the old master (starts workers, same configuration), QUIT
# the new one
kill HUP => $old;
ok(wait_for(sub { grep { cmdline($_) =~ /^nginx: worker process\0*$/ }
                  OwnNginx::children_of($old) }), 'the old master started a worker');
kill QUIT => $new;
ok(wait_for(sub { !kill 0, $new }, 10), 'new master gone');

unlike($nginx->error_log, qr/requests in flight of a worker process that exited were released/,
       'no worker exited, yet none of its requests is said to be released');

# the request in flight ends, in the old worker
1 while sysread($s, $buf, 4096, length $buf);
like($buf, qr/end/, 'the request in flight completed');
ok(wait_for(sub { !grep { cmdline($_) =~ /shutting down/ } OwnNginx::children_of($old) }),
   'the old worker exited');

my $p = peers();
is($p->{$_}{active}, 0, "$_: nothing in flight") for sort keys %$p;

# A server seen slower (one slow answer on a loaded machine) may take no
# request until its estimate fades, a second after the hold; a server
# whose requests in flight are wrongly counted takes none at all.
my %got;
my $until = time + 5;
while (keys %got < 2 && time < $until) {
    my $r = $http->get("http://127.0.0.1:$front/x");
    $got{$r->{content}}++ if $r->{success};
    sleep 0.02;
}
diag explain \%got;
ok(keys %got == 2, 'both servers still take requests');

kill QUIT => $old;
$backends->stop;
alarm 0;
done_testing();
