# The live status page (upstream_latency_status, ?format=html) in a real
# browser: headless Chromium loads it from an nginx proxying some traffic,
# and the DOM it ends with shows every backend, counted requests, and that
# the page polled the JSON answer and redrew itself several times.
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use lib 't/lib';
use LatencyTest ();
use OwnNginx;
use LatencyTest;

my $chromium = '/usr/bin/chromium';
LatencyTest::require_programs($chromium);

LatencyTest::cannot_run(OwnNginx::missing()) if OwnNginx::missing();
plan skip_all => LatencyTest::nginx_least_time()
    if LatencyTest::nginx_least_time();

# the whole test, whatever hangs, ends in time; nginx stops with $nginx
$SIG{ALRM} = sub { die "status-page.t: out of time\n" };
alarm 180;

# backends by port, with their latency
my ($front, @ports) = LatencyTest::free_ports(4);
my %backends;
@backends{@ports} = qw(0.002 0.008 0.05);

my $servers = join '', map { "        server 127.0.0.1:$_;\n" }
                       sort keys %backends;
my $listeners = join '', map {
    "    server { listen 127.0.0.1:$_; "
  . "location / { echo_sleep $backends{$_}; echo $_; } }\n"
} sort keys %backends;

my $nginx = OwnNginx->start(port => $front, http => <<"HTTP");
    upstream app {
        least_time header;
$servers    }

$listeners
    server {
        listen 127.0.0.1:$front;
        location / { proxy_pass http://app; }
        location = /upstreams { upstream_latency_status; }
    }
HTTP

my $http = HTTP::Tiny->new(timeout => 5);
my $ok = 0;
for (1 .. 20) {
    my $res = $http->get("http://127.0.0.1:$front/");
    $ok++ if $res->{success} && $backends{ $res->{content} =~ s/\n\z//r };
}
is($ok, 20, '20 requests proxied through the upstream');

my $json = $http->get("http://127.0.0.1:$front/upstreams?format=json");
ok($json->{success}, 'the JSON answer is served')
    or diag "$json->{status} $json->{content}";

# headless Chromium, with a profile and home of its own, for 4.5 s of
# the page's (virtual) time: about 5 polls
my $profile = tempdir(CLEANUP => 1);
my $url = "http://127.0.0.1:$front/upstreams?format=html";
my @flags = (qw(--headless --no-sandbox --disable-gpu --disable-quic
                --no-first-run --disable-background-networking
                --disable-component-update --disable-sync),
             "--user-data-dir=$profile/profile",
             '--virtual-time-budget=4500', '--dump-dom');
my $dom = do {
    local $ENV{HOME} = $profile;
    local $ENV{XDG_CONFIG_HOME} = "$profile/config";
    local $ENV{XDG_CACHE_HOME} = "$profile/cache";
    local $ENV{TMPDIR} = $profile;
    `timeout -k 5 60 $chromium @flags '$url' 2>$profile/chromium.log`;
};
is($?, 0, 'chromium ran and exited')
    or diag OwnNginx::read_file("$profile/chromium.log");

like($dom, qr{<title>nginx upstream latency</title>}, 'the title');
for my $port (sort keys %backends) {
    like($dom, qr{<tr\b[^>]*\bdata-server="127\.0\.0\.1:$port"},
         "a row for the backend on $port");
}

my ($updates) = $dom =~ m{<span id="updates">(\d+)</span>};
ok(defined $updates && $updates >= 3, 'the page polled and redrew itself')
    or diag 'updates: ' . ($updates // 'none');

my @requests = map { tr/,//dr } $dom =~ m{class="requests">([\d,]+)<}g;
my $total = 0;
$total += $_ for @requests;
is(scalar @requests, 3, 'a request count for each backend');
ok($total > 0, 'requests were counted') or diag "requests: @requests";

like($dom, qr{<div id="error"></div>}, 'no failed update shown');
$nginx->stop;

alarm 0;
done_testing();

