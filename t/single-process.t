# Without a master process (master_process off), a reload unmaps the
# previous configuration's table at once, while its requests still run:
# they finish without touching it.  (nginx itself serves new requests
# badly after such a reload, with or without this module: master_process
# off is for development; this guards against a crash.)
use strict;
use warnings;
use Test::More;
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep);
use lib 't/lib';
use LatencyTest;
use OwnNginx;

LatencyTest::cannot_run(OwnNginx::missing()) if OwnNginx::missing();
plan skip_all => LatencyTest::nginx_least_time()
    if LatencyTest::nginx_least_time();
$SIG{ALRM} = sub { die "single-process.t: out of time\n" };
alarm 60;

my ($front, $one, $two, $three) = LatencyTest::free_ports(4);

sub http_block {
    my ($extra) = @_;
    return <<"HTTP";
    upstream app {
        least_time header;
        server 127.0.0.1:$one;
        server 127.0.0.1:$two;
        $extra
    }
    server { listen 127.0.0.1:$one; location / { echo_sleep 1; echo slow; } }
    server { listen 127.0.0.1:$two; location / { echo_sleep 1; echo slow; } }
    server { listen 127.0.0.1:$front; location / { proxy_pass http://app; } }
HTTP
}

my $nginx = OwnNginx->start(port => $front, master => 0,
                            http => http_block(''));
my $slow = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$front")
    or die "connect: $!";
print $slow "GET / HTTP/1.0\r\nHost: localhost\r\n\r\n";
sleep 0.2;

# a third server: a new table; the previous one is unmapped at once
$nginx->write_conf(http_block("server 127.0.0.1:$three down;"));
kill HUP => $nginx->master_pid;

my $answer = do { local $/; <$slow> } // '';
like($answer, qr/^HTTP\/1\.1 200 .*\r\n\r\nslow\n\z/s,
     'the request in flight during the reload is answered');
sleep 0.3;
is(waitpid($nginx->master_pid, WNOHANG), 0, 'nginx is still running');

my $log = $nginx->error_log;
is(() = $log =~ /upstream latency zone/g, 2, 'the reload built a new table')
    or diag $log;
unlike($log, qr/\[(?:alert|crit|emerg)\]/, 'no alert') or diag $log;

$nginx->stop;
done_testing();
