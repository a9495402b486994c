# upstream_latency_status: what the balancer sees, as JSON and Prometheus.
# Tests of the endpoint itself use weighted_random, which nginx 1.31+ does
# not have, so that they run there too.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;
use JSON::PP;
use File::Temp;
use UdpBackend;

# A DNS server for the servers that resolve: backends.test is 127.0.0.2
# and 127.0.0.3.
LatencyTest::file_ports(1);
UdpBackend::fixed_dns(port => $ENV{TEST_NGINX_FILE_PORT_1},
                      addresses => {'backends.test' => ['127.0.0.2',
                                                        '127.0.0.3']});

# The last line of the body is the status JSON; the lines before name the
# backends that answered.  Returns the decoded status.
sub status_of {
    my @lines = split /\n/, shift;
    return decode_json(pop @lines);
}

sub near { my ($value, $low, $high) = @_;
           defined $value && $value >= $low && $value <= $high ? 'yes' : "no ($value)" }

# promtool's verdict on a Prometheus exposition, then the series (name and
# labels) that occur more than once: Prometheus keeps one of them and drops
# the others, and promtool does not look for them.
sub exposition_check {
    my ($body) = @_;
    my $file = File::Temp->new;
    print $file $body;
    close $file;
    my $out = `promtool check metrics < $file 2>&1`;
    my $verdict = $? == 0 ? "promtool: ok\n" : "promtool: $out";
    my %seen;
    $seen{$_}++ for $body =~ /^([^#\n].*) \S+$/mg;
    my @repeated = grep { $seen{$_} > 1 } sort keys %seen;
    return $verdict . 'repeated series: '
           . (@repeated ? CORE::join(', ', @repeated) : 'none') . "\n";
}

no_long_string();
no_shuffle();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: after 10 requests to a 50 ms backend, its counters and averages
Bounds that a loaded machine cannot break: each response takes at least
49 ms (nginx's timers may fire a ms early); an average lies between
that, decayed for up to 0.3 s until the status is read (40 ms), and the
slowest response, itself at most the sum of the times less 9 * 49 ms; a
second is far above any of them.  A value in seconds or microseconds,
or a sum instead of an average, falls outside.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.05; echo 1991; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(10, '/app') }
                 echo_location /upstreams 'format=json'; }
 location = /app { proxy_pass http://app; }
 location = /upstreams { upstream_latency_status; }"
--- request
GET /t
--- response_body_filters eval
sub { my $s = main::status_of(shift);
      my $u = $s->{upstreams}[0];
      my $p = $u->{peers}[0];
      CORE::join '', map { "$_\n" }
          "upstream $u->{name}, method $u->{method}, observed $u->{observed}",
          "server $p->{server}, state $p->{state}, weight $p->{weight}",
          "requests $p->{requests}, 2xx $p->{responses}{'2xx'}, total $p->{responses}{total}",
          "fails $p->{fails}, unavail $p->{unavail}, active $p->{active}",
          "header_time from 40 ms to the slowest: " . main::near($p->{header_time}, 40, $p->{response_time_hist}{sum} - 9 * 49),
          "response_time from 40 ms to the slowest: " . main::near($p->{response_time}, 40, $p->{response_time_hist}{sum} - 9 * 49),
          "histogram: count $p->{response_time_hist}{count}, le 25: $p->{response_time_hist}{buckets}{25}, le 1000: $p->{response_time_hist}{buckets}{1000}, inf: $p->{response_time_hist}{buckets}{inf}",
          "histogram sum from 490 to 10000 ms: " . main::near($p->{response_time_hist}{sum}, 490, 10000),
          "selected: " . ($p->{selected} =~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/ ? 'ISO 8601' : $p->{selected}),
          "table: used $s->{table}{used}, free + used = slots: " . ($s->{table}{free} + $s->{table}{used} == $s->{table}{slots} ? 'yes' : 'no') }
--- response_body
upstream app, method least_time header, observed 1
server 127.0.0.1:$TEST_NGINX_RAND_PORT_1, state up, weight 1
requests 10, 2xx 10, total 10
fails 0, unavail 0, active 0
header_time from 40 ms to the slowest: yes
response_time from 40 ms to the slowest: yes
histogram: count 10, le 25: 0, le 1000: 10, inf: 10
histogram sum from 490 to 10000 ms: yes
selected: ISO 8601
table: used 1, free + used = slots: yes
--- timeout: 10



=== TEST 2: failures and unavailability are counted
Nothing listens on 1999: the first draw of it fails and, with max_fails=1,
makes it unavailable (it is drawn within 20 requests but once in a
million runs); the retries go to 1991.
--- http_config
    upstream app {
        weighted_random;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_9 max_fails=1 fail_timeout=30s;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 down;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo 1991; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(20, '/app') }
                 echo_location /upstreams 'format=json'; }
 location = /app { proxy_pass http://app; }
 location = /upstreams { upstream_latency_status; }"
--- request
GET /t
--- response_body_filters eval
sub { my $s = main::status_of(shift);
      CORE::join '', map { "$_->{server} $_->{state}: requests $_->{requests}, fails $_->{fails}, unavail $_->{unavail}\n" }
          @{ $s->{upstreams}[0]{peers} } }
--- response_body
127.0.0.1:$TEST_NGINX_RAND_PORT_9 unavail: requests 1, fails 1, unavail 1
127.0.0.1:$TEST_NGINX_RAND_PORT_1 up: requests 20, fails 0, unavail 0
127.0.0.1:$TEST_NGINX_RAND_PORT_2 down: requests 0, fails 0, unavail 0
--- timeout: 10



=== TEST 3: upstreams of other methods are listed from their configuration
Their ids are round robin's: the primary servers, then the backup ones.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    upstream plain {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 weight=2;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 backup;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
    }
    upstream other {
        least_conn;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3 down;
    }
--- config
    location = /upstreams { upstream_latency_status; }
--- request
GET /upstreams
--- response_body_filters eval
sub { my $s = JSON::PP::decode_json(shift);
      CORE::join '', map { my $u = $_;
                     "$u->{name} ($u->{method}): " . CORE::join(', ', map {
                         "$_->{id} $_->{server} w$_->{weight}" . ($_->{backup} ? ' backup' : '')
                         . " $_->{state}" . (exists $_->{requests} ? ' counted' : '') } @{ $u->{peers} }) . "\n" }
          @{ $s->{upstreams} } }
--- response_body
app (least_time header): 0 127.0.0.1:$TEST_NGINX_RAND_PORT_1 w1 up counted
plain (round robin): 0 127.0.0.1:$TEST_NGINX_RAND_PORT_1 w2 up, 1 127.0.0.1:$TEST_NGINX_RAND_PORT_3 w1 up, 2 127.0.0.1:$TEST_NGINX_RAND_PORT_2 w1 backup up
other (other): 0 127.0.0.1:$TEST_NGINX_RAND_PORT_3 w1 down



=== TEST 4: ?upstream= limits the answer to one upstream
--- http_config
    upstream app { weighted_random; server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
    upstream api { weighted_random two least_time=last_byte; server 127.0.0.1:$TEST_NGINX_RAND_PORT_2; }
--- config
    location = /upstreams { upstream_latency_status; }
--- request
GET /upstreams?upstream=api
--- response_body_filters eval
sub { CORE::join '', map { "$_->{name}: $_->{method}\n" } @{ JSON::PP::decode_json(shift)->{upstreams} } }
--- response_body
api: weighted_random two least_time=last_byte



=== TEST 5: an unknown upstream is a 404 with a reason
--- http_config
    upstream app { weighted_random; server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
--- config
    location = /upstreams { upstream_latency_status; }
--- request
GET /upstreams?upstream=nope
--- error_code: 404
--- response_body
unknown upstream "nope"



=== TEST 6: an unknown format is a 400 with a reason
--- http_config
    upstream app { weighted_random; server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
--- config
    location = /upstreams { upstream_latency_status; }
--- request
GET /upstreams?format=xml
--- error_code: 400
--- response_body
unknown format "xml"; use json, prometheus or html



=== TEST 7: only GET and HEAD
--- http_config
    upstream app { weighted_random; server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
--- config
    location = /upstreams { upstream_latency_status; }
--- request
POST /upstreams
hello
--- error_code: 405



=== TEST 8: the Prometheus exposition passes promtool
--- http_config
    upstream app {
        weighted_random;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 backup;
    }
    upstream "plain" { server 127.0.0.1:$TEST_NGINX_RAND_PORT_3; }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo 1991; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(5, '/app') }
                 echo_location /upstreams 'format=prometheus'; }
 location = /app { proxy_pass http://app; }
 location = /upstreams { upstream_latency_status; }"
--- request
GET /t
--- response_body_filters eval
sub { my ($body) = @_;
      $body =~ s/\A(?:1991\n)+//;
      # the first server listed is the primary one, peer 0
      my ($requests) = $body =~ /^nginx_upstream_peer_requests_total\{upstream="app",server="[^"]+"\} (\d+)$/m;
      my ($bucket) = $body =~ /^nginx_upstream_peer_response_duration_seconds_bucket\{upstream="app",server="[^"]+",le="\+Inf"\} (\d+)$/m;
      main::exposition_check($body)
      . "requests_total: $requests\nbucket +Inf: $bucket\n" }
--- response_body
promtool: ok
repeated series: none
requests_total: 5
bucket +Inf: 5



=== TEST 9: peers at one address have distinct Prometheus labels
A primary and a backup at one address, a second name for it (127.1), and
one address written twice in an upstream of another method: each such peer
also has its id; the peer alone at its address has only upstream and server.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 backup;
    }
    upstream plain {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo a; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo b; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(5, '/app') }
                 echo_location /upstreams 'format=prometheus'; }
 location = /app { proxy_pass http://app; }
 location = /upstreams { upstream_latency_status; }"
--- request
GET /t
--- response_body_filters eval
sub { my ($body) = @_;
      $body =~ s/\A(?:[ab]\n)+//;
      # ports are free ones: named p1, p2... in order of appearance
      my (%name, $n);
      my @series = map { s{:(\d+)"}{':' . ($name{$1} //= 'p' . ++$n) . '"'}ger }
                   $body =~ /^nginx_upstream_peer_backup(\{.*\} \d)$/mg;
      main::exposition_check($body) . CORE::join '', map { "$_\n" } @series }
--- response_body
promtool: ok
repeated series: none
{upstream="app",server="127.0.0.1:p1",id="0"} 0
{upstream="app",server="127.0.0.1:p1",id="1"} 0
{upstream="app",server="127.0.0.1:p2"} 0
{upstream="app",server="127.0.0.1:p1",id="3"} 1
{upstream="plain",server="127.0.0.1:p3",id="0"} 0
{upstream="plain",server="127.0.0.1:p3",id="1"} 0



=== TEST 10: the live page is served as HTML
--- http_config
    upstream app { weighted_random; server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
--- config
    location = /upstreams { upstream_latency_status; }
--- request
GET /upstreams?format=html
--- response_headers
Content-Type: text/html; charset=utf-8
--- response_body_like: <title>nginx upstream latency</title>



=== TEST 11: the status directive outside a location
--- http_config
    upstream_latency_status;
--- config
--- must_die
--- error_log
"upstream_latency_status" directive is not allowed here



=== TEST 12: a server that fails nginx's try after fail_timeout is unavailable again
Nothing listens on either server: the first request fails on both
(max_fails=1), which makes each unavailable; 2.5 s later fail_timeout is
over, nginx tries each again, and each fails and becomes unavailable
again.
--- http_config
    upstream app {
        weighted_random;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_8 max_fails=1 fail_timeout=1s;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_9 max_fails=1 fail_timeout=1s;
    }
--- config
    location = /t { echo_location /app; echo_sleep 2.5; echo_location /app;
                    echo_location /upstreams 'format=json'; }
    location = /app { proxy_pass http://app; }
    location = /upstreams { upstream_latency_status; }
--- request
GET /t
--- response_body_filters eval
sub { my $s = main::status_of(shift);
      CORE::join '', map { "$_->{state}: requests $_->{requests}, fails $_->{fails}, unavail $_->{unavail}\n" }
          @{ $s->{upstreams}[0]{peers} } }
--- response_body
unavail: requests 2, fails 2, unavail 2
unavail: requests 2, fails 2, unavail 2
--- error_log
connect() failed
--- timeout: 10



=== TEST 13: a status above 599 is an answer, not a failure
nginx passes on any three digits; only 5xx says the server failed.
--- http_config
    upstream app {
        weighted_random;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { return 600 "odd\n"; } }
--- config
    location = /t { echo_location /app; echo_location /upstreams 'format=json'; }
    location = /app { proxy_pass http://app; }
    location = /upstreams { upstream_latency_status; }
--- request
GET /t
--- response_body_filters eval
sub { my $p = main::status_of(shift)->{upstreams}[0]{peers}[0];
      "requests $p->{requests}, fails $p->{fails}, 5xx $p->{responses}{'5xx'}\n" }
--- response_body
requests 1, fails 0, 5xx 0



=== TEST 14: ?upstream= takes the name escaped as in a URL
--- http_config
    upstream "a b" { weighted_random; server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
    upstream app { weighted_random; server 127.0.0.1:$TEST_NGINX_RAND_PORT_2; }
--- config
    location = /upstreams { upstream_latency_status; }
--- request
GET /upstreams?upstream=a%20b
--- response_body_filters eval
sub { CORE::join '', map { "$_->{name}\n" } @{ JSON::PP::decode_json(shift)->{upstreams} } }
--- response_body
a b



=== TEST 15: a round robin upstream lists the addresses its servers resolved to
Each name's addresses, as nginx keeps them in the zone, with the servers
that do not resolve; nginx resolves the names as the worker starts, well
within the 0.5 s the request waits.
--- skip_nginx: 2: < 1.27.3: nginx before 1.27.3 does not resolve servers at run time
--- http_config
    resolver 127.0.0.1:$TEST_NGINX_FILE_PORT_1 ipv6=off;
    upstream plain {
        zone plain 64k;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 weight=2;
        server backends.test:$TEST_NGINX_RAND_PORT_2 resolve;
        server backends.test:$TEST_NGINX_RAND_PORT_3 resolve backup down;
    }
--- config
    location = /t { echo_sleep 0.5; echo_location /upstreams; }
    location = /upstreams { upstream_latency_status; }
--- request
GET /t
--- response_body_filters eval
sub { LatencyTest::peer_lines(
          JSON::PP::decode_json(shift)->{upstreams}[0]{peers}) }
--- response_body
127.0.0.1:$TEST_NGINX_RAND_PORT_1 (127.0.0.1:$TEST_NGINX_RAND_PORT_1) w2 up
127.0.0.2:$TEST_NGINX_RAND_PORT_2 (backends.test:$TEST_NGINX_RAND_PORT_2) w1 up
127.0.0.3:$TEST_NGINX_RAND_PORT_2 (backends.test:$TEST_NGINX_RAND_PORT_2) w1 up
127.0.0.2:$TEST_NGINX_RAND_PORT_3 (backends.test:$TEST_NGINX_RAND_PORT_3) w1 backup down
127.0.0.3:$TEST_NGINX_RAND_PORT_3 (backends.test:$TEST_NGINX_RAND_PORT_3) w1 backup down
