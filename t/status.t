# upstream_latency_status: what the balancer sees, as JSON and Prometheus.
# Tests of the endpoint itself use weighted_random, which nginx 1.31+ does
# not have, so that they run there too.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;
use JSON::PP;
use File::Temp;

# The last line of the body is the status JSON; the lines before name the
# backends that answered.  Returns the decoded status.
sub status_of {
    my @lines = split /\n/, shift;
    return decode_json(pop @lines);
}

sub near { my ($value, $low, $high) = @_;
           defined $value && $value >= $low && $value <= $high ? 'yes' : "no ($value)" }

no_long_string();
no_shuffle();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: after 10 requests to a 50 ms backend, its counters and averages
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:1991;
    }
    server { listen 127.0.0.1:1991; location / { echo_sleep 0.05; echo 1991; } }
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
          "header_time near 50 ms: " . main::near($p->{header_time}, 49, 80),
          "response_time near 50 ms: " . main::near($p->{response_time}, 49, 80),
          "histogram: count $p->{response_time_hist}{count}, le 25: $p->{response_time_hist}{buckets}{25}, le 100: $p->{response_time_hist}{buckets}{100}, inf: $p->{response_time_hist}{buckets}{inf}",
          "histogram sum near 500 ms: " . main::near($p->{response_time_hist}{sum}, 490, 800),
          "selected: " . ($p->{selected} =~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/ ? 'ISO 8601' : $p->{selected}),
          "table: used $s->{table}{used}, free + used = slots: " . ($s->{table}{free} + $s->{table}{used} == $s->{table}{slots} ? 'yes' : 'no') }
--- response_body
upstream app, method least_time header, observed 1
server 127.0.0.1:1991, state up, weight 1
requests 10, 2xx 10, total 10
fails 0, unavail 0, active 0
header_time near 50 ms: yes
response_time near 50 ms: yes
histogram: count 10, le 25: 0, le 100: 10, inf: 10
histogram sum near 500 ms: yes
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
        server 127.0.0.1:1999 max_fails=1 fail_timeout=30s;
        server 127.0.0.1:1991;
        server 127.0.0.1:1992 down;
    }
    server { listen 127.0.0.1:1991; location / { echo 1991; } }
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
127.0.0.1:1999 unavail: requests 1, fails 1, unavail 1
127.0.0.1:1991 up: requests 20, fails 0, unavail 0
127.0.0.1:1992 down: requests 0, fails 0, unavail 0
--- timeout: 10



=== TEST 3: upstreams of other methods are listed from their configuration
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:1991;
    }
    upstream plain {
        server 127.0.0.1:1991 weight=2;
        server 127.0.0.1:1992 backup;
    }
    upstream other {
        least_conn;
        server 127.0.0.1:1993 down;
    }
--- config
    location = /upstreams { upstream_latency_status; }
--- request
GET /upstreams
--- response_body_filters eval
sub { my $s = JSON::PP::decode_json(shift);
      CORE::join '', map { my $u = $_;
                     "$u->{name} ($u->{method}): " . CORE::join(', ', map {
                         "$_->{server} w$_->{weight}" . ($_->{backup} ? ' backup' : '')
                         . " $_->{state}" . (exists $_->{requests} ? ' counted' : '') } @{ $u->{peers} }) . "\n" }
          @{ $s->{upstreams} } }
--- response_body
app (least_time header): 127.0.0.1:1991 w1 up counted
plain (round robin): 127.0.0.1:1991 w2 up, 127.0.0.1:1992 w1 backup up
other (other): 127.0.0.1:1993 w1 down



=== TEST 4: ?upstream= limits the answer to one upstream
--- http_config
    upstream app { weighted_random; server 127.0.0.1:1991; }
    upstream api { weighted_random two least_time=last_byte; server 127.0.0.1:1992; }
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
    upstream app { weighted_random; server 127.0.0.1:1991; }
--- config
    location = /upstreams { upstream_latency_status; }
--- request
GET /upstreams?upstream=nope
--- error_code: 404
--- response_body
unknown upstream "nope"



=== TEST 6: an unknown format is a 400 with a reason
--- http_config
    upstream app { weighted_random; server 127.0.0.1:1991; }
--- config
    location = /upstreams { upstream_latency_status; }
--- request
GET /upstreams?format=xml
--- error_code: 400
--- response_body
unknown format "xml"; use json, prometheus or html



=== TEST 7: only GET and HEAD
--- http_config
    upstream app { weighted_random; server 127.0.0.1:1991; }
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
        server 127.0.0.1:1991;
        server 127.0.0.1:1992 backup;
    }
    upstream "plain" { server 127.0.0.1:1993; }
    server { listen 127.0.0.1:1991; location / { echo 1991; } }
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
      my $file = File::Temp->new;
      print $file $body;
      close $file;
      my $out = `promtool check metrics < $file 2>&1`;
      my ($requests) = $body =~ /^nginx_upstream_peer_requests_total\{upstream="app",server="127.0.0.1:1991"\} (\d+)$/m;
      my ($bucket) = $body =~ /^nginx_upstream_peer_response_duration_seconds_bucket\{upstream="app",server="127.0.0.1:1991",le="\+Inf"\} (\d+)$/m;
      ($? == 0 ? "promtool: ok\n" : "promtool: $out")
      . "requests_total: $requests\nbucket +Inf: $bucket\n" }
--- response_body
promtool: ok
requests_total: 5
bucket +Inf: 5



=== TEST 9: the live page is served as HTML
--- http_config
    upstream app { weighted_random; server 127.0.0.1:1991; }
--- config
    location = /upstreams { upstream_latency_status; }
--- request
GET /upstreams?format=html
--- response_headers
Content-Type: text/html; charset=utf-8
--- response_body_like: <title>nginx upstream latency</title>



=== TEST 10: the status directive outside a location
--- http_config
    upstream_latency_status;
--- config
--- must_die
--- error_log
"upstream_latency_status" directive is not allowed here
