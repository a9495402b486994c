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
use LatencyTest ();
use OwnNginx;
use LatencyTest;

LatencyTest::cannot_run(OwnNginx::missing()) if OwnNginx::missing();
plan skip_all => LatencyTest::nginx_least_time()
    if LatencyTest::nginx_least_time();
LatencyTest::require_programs('/usr/bin/wrk');
$SIG{ALRM} = sub { die "reload-under-load.t: out of time\n" };
alarm 60;

# Two upstreams over the same backends, least_time and round robin; with
# $with_1943 both also have 1943.  The backend 1943 listens throughout.
# HTTP/1.0 to the backends, as nginx before 1.29.7 always did: from 1.29.7
# on, nginx keeps upstream connections alive, and a connection that an old
# worker of the backends closes counts as a failure of the server, with
# round robin as with the module, so that both can have every server of a
# worker unavailable for fail_timeout (seen with either, under the same load).
# Backends on free ports answer their labels 1941, 1942 and 1943.
my ($front, @port) = LatencyTest::free_ports(4);
my %address = map { (1941 + $_ => "127.0.0.1:$port[$_]") } 0 .. 2;
sub http {
    my ($with_1943) = @_;
    my $extra = $with_1943 ? "server $address{1943};" : '';
    my $backends = join '', map {
        "    server { listen $address{$_};
             location / { echo_sleep 0.001; echo $_; } }\n"
    } 1941 .. 1943;
    return <<"HTTP";
    upstream lt {
        least_time header;
        server $address{1941}; server $address{1942}; $extra
    }
    upstream rr { server $address{1941}; server $address{1942}; $extra }
$backends
    server {
        listen 127.0.0.1:$front;
        proxy_http_version 1.0;
        location /lt { proxy_pass http://lt; }
        location /rr { proxy_pass http://rr; }
        location = /upstreams { upstream_latency_status; }
    }
HTTP
}

my $nginx = OwnNginx->start(port => $front, workers => 2, http => http(0));
my $http = HTTP::Tiny->new(timeout => 5);

# The peers of upstream lt, by address.
sub peers {
    my $res = $http->get("http://127.0.0.1:$front/upstreams?upstream=lt");
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
        "http://127.0.0.1:$front$path", '--', 'count'
        or die "wrk: $!";
    return $out;
}

# Failed requests in wrk's output: (responses not from a backend, socket
# errors other than read errors, read errors, summary).
sub failures {
    my ($out) = @_;
    my $text = do { local $/; <$out> };
    close $out;
    my %result = $text =~ /^\@result (\S+) (\S+)$/mg;
    my %backend = $text =~ /^\@backend (\S+) (\d+)$/mg;
    die "wrk did not run:\n$text" unless $result{requests};
    my $not_200 = 0;
    $not_200 += $backend{$_} for grep { !/^194[123]$/ } keys %backend;
    my $other = 0;
    $other += $result{"errors_$_"} for qw(connect write timeout);
    return ($not_200, $other, $result{errors_read},
            "$result{requests} requests ("
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
my %last = map { $_ => $before->{$_}{requests} } @address{1941, 1942};
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
    push @present, $reload if !$with_1943 != !$peers->{$address{1943}};
    $memory_2 = shared_memory() if $reload == 2;
    $memory_10 = shared_memory() if $reload == 10;
}

my ($close_not_200, $close_other, $close_read, $close_summary) = failures($close);
my ($lt_not_200, $lt_other, $lt_read, $lt_summary) = failures($keepalive_lt);
my ($rr_not_200, $rr_other, $rr_read, $rr_summary) = failures($keepalive_rr);
diag "load and reloads took ", sprintf('%.1f', time - $start), " s";

diag "Connection: close, least_time: $close_summary";
is($close_not_200 + $close_other + $close_read, 0,
   'a connection per request: every request succeeds');

# A table rebuilt without its counters would start again from zero: the
# check right after each reload sees that, the one at the end may not.
# A request that wrk left as it stopped may still end: a count left by a
# lost release stays, so wait for it up to 3 s.
my $active = sub { join ' ', map { $_[0]->{$_}{active} } sort keys %{ $_[0] } };
my $after = peers();
for (1 .. 30) {
    last if $active->($after) eq '0 0';
    sleep 0.1;
    $after = peers();
}
ok($after->{$address{1941}}{requests} >= $before->{$address{1941}}{requests}
   && $after->{$address{1942}}{requests} >= $before->{$address{1942}}{requests},
   'the peers that stay keep their counters from before the first reload');
is_deeply(\@lost, [], 'their counters never go back at a reload');
is_deeply(\@present, [], '1943 is listed after the reloads that add it '
                         . 'and only after those');
ok(!$after->{$address{1943}}, '1943 is gone at the end');
is($active->($after), '0 0',
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
# here.  Nothing else may fail: a request the balancer lost or refused is
# a 502 or a timeout.  Round robin, alongside, shows the same mechanism.
diag "keep-alive, least_time: $lt_summary";
diag "keep-alive, round robin: $rr_summary";
is("$lt_not_200 $lt_other", '0 0',
   'keep-alive, least_time: every response a 200, no other socket error');
ok($lt_read <= 30, 'keep-alive, least_time: at most one read error per '
                   . 'connection and reload');
is("$rr_not_200 $rr_other", '0 0', 'keep-alive, round robin: the same');
ok($rr_read <= 30, 'keep-alive, round robin: the same');

$nginx->stop;
alarm 0;
done_testing();
