# max_conns caps the requests in flight to a server, whatever the method.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: least_time sends no more than max_conns requests at once to a server
Ten requests 20 ms apart, each held a second.  The server of weight 9
takes one: max_conns=1.  Ignoring max_conns, its weight as capacity would
give it most of them.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 weight=9 max_conns=1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 1; echo capped; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 1; echo other; } }
--- config eval
"location = /t { ${\ LatencyTest::parallel_requests(10, '/app', 0.02) } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body
capped: 1
other: 9
--- timeout: 10



=== TEST 2: weighted_random draws no server at its max_conns
The same with random draws: ignoring max_conns, the server of weight 9
would be drawn for 9 of 10.
--- http_config
    upstream app {
        weighted_random;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 weight=9 max_conns=1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 1; echo capped; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 1; echo other; } }
--- config eval
"location = /t { ${\ LatencyTest::parallel_requests(10, '/app', 0.02) } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body
capped: 1
other: 9
--- timeout: 10



=== TEST 3: weighted_random two compares only servers below their max_conns
With least_conn, a server of weight 9 and one request looks less busy
than one of weight 1 and one request: ignoring max_conns, it would win
most draws.
--- http_config
    upstream app {
        weighted_random two;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 weight=9 max_conns=1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 1; echo capped; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 1; echo other; } }
--- config eval
"location = /t { ${\ LatencyTest::parallel_requests(10, '/app', 0.02) } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body
capped: 1
other: 9
--- timeout: 10
