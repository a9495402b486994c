# Differences within measurement noise are ties: identical servers share
# the load, while a server clearly slower keeps to its probes.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: two identical fast servers share the load evenly
Both answer in a fraction of a millisecond, some tens or hundreds of
microseconds apart from request to request.  Before, that jitter exceeded
the relative tie band of 1/8 and one server took nearly every request (39
of 40); now differences under 1 ms are ties, taken in turn.  The 100
requests come 40 ms apart, over 4 s: on a loaded machine a response delayed by
several ms is a real difference and keeps its server out for a second or
two (until its estimate decays), and the test must stand that (over 2.4 s,
one server took 47 of 60 there).  Tolerance: 50 of 100 each, +- 35, far
from the 97 of 100 of no tie.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo 1992; } }
--- config eval
"location = /t { ${\ CORE::join 'echo_sleep 0.04;', ('echo_location /app;') x 100 } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [15, 85], 1992 => [15, 85])
--- timeout: 10



=== TEST 2: equally fast headers tie under least_time header, whatever the body
1991 sends its body 30 ms after its header, 1992 at once.  The header time
of 1991 derived from nginx's millisecond body time went negative, an exact
1 us: it took nearly every request.  Requests 40 ms apart, as above.
Tolerance: 30 of 60 each, +- 20 (under ASan, +- 15 saw 46 against 14).
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
             location / { echo 1991; echo_flush; echo_sleep 0.03; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo 1992; } }
--- config eval
"location = /t { ${\ CORE::join 'echo_sleep 0.04;', ('echo_location /app;') x 60 } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [10, 50], 1992 => [10, 50])
--- timeout: 10



=== TEST 3: 2 ms against 12 ms stays a clear difference
Three servers at 2 ms, one at 12 ms: the 12 ms one gets its first request
and then its decay probes, 1 or 2 of 60, up to 5 when a loaded machine
stretches the 2 ms ones (nginx 1.31 sends it 6%; round robin, or a tie
band wide enough to take it for equal, 15).
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_4;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.002; echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 0.002; echo 1992; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3; location / { echo_sleep 0.002; echo 1993; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_4; location / { echo_sleep 0.012; echo 1994; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(60, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [1, 58], 1992 => [1, 58], 1993 => [1, 58],
                    1994 => [1, 5])
--- timeout: 10
