# The faster backend gets the traffic, by the metric least_time names.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: a 2 ms backend takes nearly all requests from a 20 ms one
After one probe each, the 20 ms backend is chosen again only when its
estimate decays below the 2 ms one's (about 4 s at the 1 s half-life: held 1 s, then halving) or
when a hiccup of the 2 ms backend (a slower response replaces its
average) makes it look slower; on a loaded machine that happens a few
times.  Tolerance: at least 85 of 100 to the 2 ms backend.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.002; echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 0.02; echo 1992; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(100, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [85, 99], 1992 => [1, 15])
--- timeout: 10



=== TEST 2: least_time header prefers the backend that answers first
1991 sends its header at once and its body 30 ms later; 1992 answers
whole after 10 ms.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
             location / { echo 1991; echo_flush; echo_sleep 0.03; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 0.01; echo 1992; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(30, '/app') } }
 location = /app { proxy_pass http://app; proxy_buffering off; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [27, 29], 1992 => [1, 3])
--- timeout: 10



=== TEST 3: least_time last_byte prefers the backend that finishes first
The same backends as above: by the whole response, 1992 is faster.
--- http_config
    upstream app {
        least_time last_byte;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
             location / { echo 1991; echo_flush; echo_sleep 0.03; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 0.01; echo 1992; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(30, '/app') } }
 location = /app { proxy_pass http://app; proxy_buffering off; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [1, 3], 1992 => [27, 29])
--- timeout: 10



=== TEST 4: weight does not make a slow backend look fast
Weight is capacity: it counts against requests in flight, not latency.
2 ms against 100 ms, weight 5 on the slow one: it gets its probes only
(against 30 ms, under ASan on a loaded machine, 9 of 50).
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 weight=5;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.002; echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 0.1; echo 1992; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(50, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [44, 49], 1992 => [1, 6])
--- timeout: 10
