# Backends of the same speed share requests by weighted round robin.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: three equal backends share requests evenly
100 ms each; estimates within 1/8 of each other are ties.  Slow enough
that the tie band (12.5 ms) exceeds the jitter of a loaded machine.
Tolerance: each gets 10 of 30, plus or minus 5.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.1; echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 0.1; echo 1992; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3; location / { echo_sleep 0.1; echo 1993; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(30, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [5, 15], 1992 => [5, 15], 1993 => [5, 15])
--- timeout: 10



=== TEST 2: equal backends share by weight
Weights 2 and 1: 20 and 10 of 30, plus or minus 5.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 weight=2;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.1; echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 0.1; echo 1992; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(30, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [15, 25], 1992 => [5, 15])
--- timeout: 10
