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
One request to a location that answers in 50 ms, sent with three to one
that answers in 400 ms (T; more on a loaded machine, but the three
alike), all at once: the three found 1, 2 and 3 others in flight, and
count T/2, T/3 and T/4 per request.  The first of them raises the
average to T/2 (a slower time replaces it); the others, faster, move it
down a little.  Recorded as measured, the average would be T, above the
mean response time, (50 ms + 3 T) / 4, the response_time_hist's sum
over its count; per request it is about 0.6 of it.  The bound, 0.8 of
the mean, lies between.  The half-life is a day, so that the average
read a second later has not decayed.
--- http_config
    upstream app {
        least_time header;
        upstream_latency_half_life 24h;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
             location /fast { echo_sleep 0.05; echo 1991; }
             location /slow { echo_sleep 0.4; echo 1991; } }
--- config eval
"location = /t {
     echo_location_async /app/fast;
     ${\ LatencyTest::parallel_requests(3, '/app/slow', 0) }
     echo_sleep 1.5;
     echo_location /upstreams 'format=json';
 }
 location /app/ { proxy_pass http://app/; }
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
