# With inflight, requests still waiting count, so a hanging peer is avoided
# before it ever answers.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: least_time header inflight sends one request to a hanging peer
First 10 requests to /warm teach that 1991 is the faster (2 ms against
100 ms: a first sample of 1991 slowed by a loaded machine stays below).
Then /hang makes 1991 hang for 2 s; six requests are started 200 ms apart.
After the first, 1991's request in flight has waited longer than 1992's
100 ms.
--- http_config
    upstream app {
        least_time header inflight;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
             location /warm { echo_sleep 0.002; echo 1991; }
             location /hang { echo_sleep 2; echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
             location / { echo_sleep 0.1; echo 1992; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(10, '/app/warm') } echo_location /bar;
                 ${\ LatencyTest::parallel_requests(6, '/app/hang', 0.2) } }
 location = /bar { echo ===; }
 location /app/ { proxy_pass http://app/; }"
--- request
GET /t
--- response_body_filters eval
sub { my ($warm, $hang) = split /===\n/, shift;
      "warm\n" . LatencyTest::tally($warm) . "hang\n" . LatencyTest::tally($hang) }
--- response_body_like eval
qr/\Awarm\n1991: (?:9|10)\n(?:1992: 1\n)?hang\n1991: 1\n1992: 5\n\z/
--- timeout: 10



=== TEST 2: without inflight, the hanging peer gets requests until it is busier
The same traffic: 1991's estimate stays at its 2 ms until its first
answer, so it takes every request while 2 ms * (1 + active) is below
1992's 100 ms: all six, even with the 15 ms a loaded machine may measure
(against 30 ms, 1992 took two there).  With inflight, it would take one.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
             location /warm { echo_sleep 0.002; echo 1991; }
             location /hang { echo_sleep 2; echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
             location / { echo_sleep 0.1; echo 1992; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(10, '/app/warm') } echo_location /bar;
                 ${\ LatencyTest::parallel_requests(6, '/app/hang', 0.2) } }
 location = /bar { echo ===; }
 location /app/ { proxy_pass http://app/; }"
--- request
GET /t
--- response_body_filters eval
sub { my ($warm, $hang) = split /===\n/, shift;
      "warm\n" . LatencyTest::tally($warm) . "hang\n" . LatencyTest::tally($hang) }
--- response_body_like eval
qr/\Awarm\n1991: (?:9|10)\n(?:1992: 1\n)?hang\n1991: [56]\n(?:1992: 1\n)?\z/
--- timeout: 10
