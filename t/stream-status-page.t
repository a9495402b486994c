# The live status page shows the stream block's upstreams too: headless
# Chromium loads it from an nginx whose stream upstream took some sessions,
# and the DOM it ends with has a section for it, a row per server, counted
# connections and the stream column names.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use lib 't/lib';
use LatencyTest;
use OwnNginx;

my $chromium = '/usr/bin/chromium';
LatencyTest::require_programs($chromium);
LatencyTest::cannot_run(OwnNginx::missing()) if OwnNginx::missing();
plan skip_all => LatencyTest::nginx_least_time()
    if LatencyTest::nginx_least_time();

$SIG{ALRM} = sub { die "stream-status-page.t: out of time\n" };
alarm 180;

# the http front, the stream listener, and the stream upstream's servers,
# http servers answering with their port
my ($front, $listener, @ports) = LatencyTest::free_ports(4);
my $nginx = OwnNginx->start(port => $front, main => <<"STREAM", http => <<"HTTP");
stream {
    upstream tcpapp {
        least_time first_byte;
        server 127.0.0.1:$ports[0];
        server 127.0.0.1:$ports[1];
    }
    server { listen 127.0.0.1:$listener; proxy_pass tcpapp; }
}
STREAM
    server { listen 127.0.0.1:$ports[0];
             location / { echo_sleep 0.002; echo $ports[0]; } }
    server { listen 127.0.0.1:$ports[1];
             location / { echo_sleep 0.02; echo $ports[1]; } }
    server {
        listen 127.0.0.1:$front;
        location / { proxy_pass http://127.0.0.1:$listener; }
        location = /upstreams { upstream_latency_status; }
    }
HTTP

my $http = HTTP::Tiny->new(timeout => 5);
my $ok = 0;
for (1 .. 10) {
    my $res = $http->get("http://127.0.0.1:$front/");
    $ok++ if $res->{success} && $res->{content} =~ /^(?:$ports[0]|$ports[1])$/m;
}
is($ok, 10, '10 sessions through the stream upstream');

my $profile = tempdir(CLEANUP => 1);
my $url = "http://127.0.0.1:$front/upstreams?format=html";
my @flags = (qw(--headless --no-sandbox --disable-gpu --disable-quic
                --no-first-run --disable-background-networking
                --disable-component-update --disable-sync),
             "--user-data-dir=$profile/profile",
             '--virtual-time-budget=2500', '--dump-dom');
my $dom = do {
    local $ENV{HOME} = $profile;
    local $ENV{XDG_CONFIG_HOME} = "$profile/config";
    local $ENV{XDG_CACHE_HOME} = "$profile/cache";
    local $ENV{TMPDIR} = $profile;
    `timeout -k 5 60 $chromium @flags '$url' 2>$profile/chromium.log`;
};
is($?, 0, 'chromium ran and exited')
    or diag OwnNginx::read_file("$profile/chromium.log");

like($dom, qr{<section data-stream-upstream="tcpapp">}, 'a stream section');
like($dom, qr{<th>connections</th>.*<th>first byte ms</th>}s,
     'the stream column names');
like($dom, qr{zone stream_upstream_latency: 2 of \d+ slots used},
     'the stream zone');
for my $port (@ports) {
    like($dom, qr{<tr\b[^>]*\bdata-server="127\.0\.0\.1:$port"},
         "a row for the server on $port");
}
my @sessions = map { tr/,//dr } $dom =~ m{class="requests">([\d,]+)<}g;
my $total = 0;
$total += $_ for @sessions;
# and one more, perhaps: the start waits until the front port answers
ok($total >= 10 && $total <= 11, 'the sessions were counted')
    or diag "sessions: @sessions";
like($dom, qr{<div id="error"></div>}, 'no failed update shown');

$nginx->stop;
alarm 0;
done_testing();
