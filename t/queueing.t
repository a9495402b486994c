# Under load a server's measured times include its queue; the module
# records each time per request, divided by 1 + the requests in flight it
# found when it was sent, so that the score, which multiplies by the
# requests in flight now, counts the queue once (README, under queueing).
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;
use JSON::PP;

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: times are recorded per request
Four requests sent at once to a server that answers each in 200 ms (more
on a loaded machine, but all four alike) found 0, 1, 2 and 3 others in
flight, and end in that order: they count T, T/2, T/3 and T/4 per
request, the first replacing the average, the others moving it down by
a quarter each, to about 0.62 T.  Recorded as measured, the average
stays at the shortest of the four times or more: near their mean, the
response_time_hist's sum over its count.  The bound, 0.8 of the mean,
lies between.  The half-life is a day, so that the average read a
second later has not decayed.
--- http_config
    upstream app {
        least_time header;
        upstream_latency_half_life 24h;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
             location / { echo_sleep 0.2; echo 1991; } }
--- config eval
"location = /t {
     ${\ LatencyTest::parallel_requests(4, '/app', 0) }
     echo_sleep 1.5;
     echo_location /upstreams 'format=json';
 }
 location = /app { proxy_pass http://app; }
 location = /upstreams { upstream_latency_status; }"
--- request
GET /t
--- response_body_filters eval
sub { my @lines = split /\n/, shift;
      my $p = JSON::PP::decode_json(pop @lines)->{upstreams}[0]{peers}[0];
      my $h = $p->{response_time_hist};
      my $ratio = $p->{header_time} / ($h->{sum} / $h->{count});
      "requests $p->{requests}, header_time "
      . ($ratio < 0.8 ? "below 0.8" : sprintf("%.2f", $ratio))
      . " of the mean response time\n" }
--- response_body
requests 4, header_time below 0.8 of the mean response time
--- timeout: 10
