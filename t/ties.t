# Backends of the same speed share requests by weighted round robin.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: three equal backends share requests evenly
20 ms each; estimates within 1/8 of each other are ties.  Tolerance: each
gets 20 of 60, plus or minus 6.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.02; echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 0.02; echo 1992; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3; location / { echo_sleep 0.02; echo 1993; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(60, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [14, 26], 1992 => [14, 26], 1993 => [14, 26])
--- timeout: 10



=== TEST 2: equal backends share by weight
Weights 2 and 1: 40 and 20 of 60, plus or minus 6.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 weight=2;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.02; echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 0.02; echo 1992; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(60, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [34, 46], 1992 => [14, 26])
--- timeout: 10
