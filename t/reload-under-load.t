# Ten reloads under load, alternately adding and removing a peer: no
# request fails, the statistics of the peers that stay are kept, the removed
# peer leaves the status, and shared memory does not grow.
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
$SIG{ALRM} = sub { die "reload-under-load.t: out of time\n" };
alarm 60;

# Two upstreams over the same backends, least_time and round robin; with
# $with_1943 both also have 1943.  The backend 1943 listens throughout.
# HTTP/1.0 to the backends, as nginx before 1.29.7 always did: from 1.29.7
# on, nginx keeps upstream connections alive, and a connection that an old
# worker of the backends closes counts as a failure of the server, with
# round robin as with the module, so that both can have every server of a
# worker unavailable for fail_timeout (seen with either, under the same load).
sub http {
    my ($with_1943) = @_;
    my $extra = $with_1943 ? 'server 127.0.0.1:1943;' : '';
    my $backends = join '', map {
        "    server { listen 127.0.0.1:$_;
             location / { echo_sleep 0.001; echo $_; } }\n"
    } 1941 .. 1943;
    return <<"HTTP";
    upstream lt {
        least_time header;
        server 127.0.0.1:1941; server 127.0.0.1:1942; $extra
    }
    upstream rr { server 127.0.0.1:1941; server 127.0.0.1:1942; $extra }
$backends
    server {
        listen 127.0.0.1:1940;
        proxy_http_version 1.0;
        location /lt { proxy_pass http://lt; }
        location /rr { proxy_pass http://rr; }
        location = /upstreams { upstream_latency_status; }
    }
HTTP
}

my $nginx = OwnNginx->start(port => 1940, workers => 2, http => http(0));
my $http = HTTP::Tiny->new(timeout => 5);

# The peers of upstream lt, by address.
sub peers {
    my $res = $http->get('http://127.0.0.1:1940/upstreams?upstream=lt');
    die "status: $res->{status}\n" unless $res->{success};
    return { map { $_->{server} => $_ }
             @{ decode_json($res->{content})->{upstreams}[0]{peers} } };
}

# The master's shared mappings (nginx's zones are anonymous shared maps,
# "/dev/zero (deleted)"; System V ones would be "/SYSV..."): count, bytes.
sub shared_memory {
    open my $fh, '<', '/proc/' . $nginx->master_pid . '/maps' or die "maps: $!";
    my ($count, $bytes) = (0, 0);
    no warnings 'portable';    # 64-bit addresses
    while (<$fh>) {
        my ($from, $to) = m{^(\w+)-(\w+) .*(?:/dev/zero \(deleted\)|/SYSV)}
            or next;
        $count++;
        $bytes += hex($to) - hex($from);
    }
    return "$count mappings, $bytes bytes";
}

# wrk for 14 s through bench/count.lua (one connection per thread); its
# output is read when it is done.
sub wrk {
    my ($path, @headers) = @_;
    open my $out, '-|', 'timeout', '-k', '5', '30', '/usr/bin/wrk',
        '-t', 3, '-c', 3, '-d', '14s', '--timeout', '5s',
        (map { ('-H', $_) } @headers), '-s', 'bench/count.lua',
        "http://127.0.0.1:1940$path", '--', 'count'
        or die "wrk: $!";
    return $out;
}

# Failed requests in wrk's output: socket errors and responses not 200.
sub failures {
    my ($out) = @_;
    my $text = do { local $/; <$out> };
    close $out;
    my %result = $text =~ /^\@result (\S+) (\S+)$/mg;
    my %backend = $text =~ /^\@backend (\S+) (\d+)$/mg;
    die "wrk did not run:\n$text" unless $result{requests};
    my $failed = 0;
    $failed += $result{"errors_$_"} for qw(connect read write timeout);
    $failed += $backend{$_} for grep { !/^194[123]$/ } keys %backend;
    return ($failed, "$result{requests} requests, $failed failed ("
            . join(', ', map { "$_: $backend{$_}" } sort keys %backend)
            . ", socket errors: connect $result{errors_connect}, read "
            . "$result{errors_read}, write $result{errors_write}, timeout "
            . "$result{errors_timeout})");
}

my $start = time;
my $close = wrk('/lt', 'Connection: close');
my $keepalive_lt = wrk('/lt');
my $keepalive_rr = wrk('/rr');

sleep 1.5;
my $before = peers();
my %last = map { $_ => $before->{$_}{requests} } qw(127.0.0.1:1941 127.0.0.1:1942);
my (@lost, @present, $memory_2, $memory_10);

# Reloads 1 s apart, from 1.5 s to 10.5 s: odd ones add 1943, even ones
# remove it.  After each, what the status shows comes from the new table.
for my $reload (1 .. 10) {
    my $wait = $start + 0.5 + $reload - time;
    sleep $wait if $wait > 0;
    my $with_1943 = $reload % 2;
    $nginx->reload(http($with_1943)) or die "reload $reload did not complete";
    my $peers = peers();
    for my $server (sort keys %last) {
        push @lost, "$server after reload $reload: $peers->{$server}{requests}"
                    . " < $last{$server}"
            if $peers->{$server}{requests} < $last{$server};
        $last{$server} = $peers->{$server}{requests};
    }
    push @present, $reload if !$with_1943 != !$peers->{'127.0.0.1:1943'};
    $memory_2 = shared_memory() if $reload == 2;
    $memory_10 = shared_memory() if $reload == 10;
}

my ($close_failed, $close_summary) = failures($close);
my ($lt_failed, $lt_summary) = failures($keepalive_lt);
my ($rr_failed, $rr_summary) = failures($keepalive_rr);
diag "load and reloads took ", sprintf('%.1f', time - $start), " s";

diag "Connection: close, least_time: $close_summary";
is($close_failed, 0, 'a connection per request: every request succeeds');

# A table rebuilt without its counters would start again from zero: the
# check right after each reload sees that, the one at the end may not.
my $after = peers();
ok($after->{'127.0.0.1:1941'}{requests} >= $before->{'127.0.0.1:1941'}{requests}
   && $after->{'127.0.0.1:1942'}{requests} >= $before->{'127.0.0.1:1942'}{requests},
   'the peers that stay keep their counters from before the first reload');
is_deeply(\@lost, [], 'their counters never go back at a reload');
is_deeply(\@present, [], '1943 is listed after the reloads that add it '
                         . 'and only after those');
ok(!$after->{'127.0.0.1:1943'}, '1943 is gone at the end');
is(join(' ', map { $after->{$_}{active} } sort keys %$after), '0 0',
   'no request left counted in flight across the reloads');

# Per configuration: the table holds 2 or 3 peers and keeps 1941 and 1942
# (never 1943: the table that re-adds it comes from one without it).
my ($log, @zones) = $nginx->error_log;
push @zones, "$1 peers, $2 kept" while $log =~
    /upstream latency zone "upstream_latency": (\d+) peers in \d+ bytes, (\d+) kept from the previous configuration/g;
is_deeply(\@zones, ['2 peers, 0 kept',
                    map { $_ % 2 ? '3 peers, 2 kept' : '2 peers, 2 kept' } 1 .. 10],
          'each reload keeps the two remaining peers');

is($memory_10, $memory_2, 'shared memory after reload 10 is as after reload 2')
    and diag "shared memory: $memory_10";

# Keep-alive clients: an old worker closes its idle keep-alive connections
# when it shuts down, and a request wrk has just sent on one fails (a read
# error) whatever the balancer: at most once per connection and reload, 30
# here.  In 11 runs: 1 to 13 with either, the two 6 apart at most.  The
# module may not fail more than round robin + 10.
diag "keep-alive, least_time: $lt_summary";
diag "keep-alive, round robin: $rr_summary";
ok($lt_failed <= $rr_failed + 10,
   'keep-alive: least_time fails no more than round robin + 10');

unlike($nginx->error_log, qr/\[(?:alert|emerg|crit)\]/, 'no alert in the log');

$nginx->stop;
alarm 0;
done_testing();
