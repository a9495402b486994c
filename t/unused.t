# Loaded but not used, the module stays out of the way.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

run_tests();

__DATA__

=== TEST 1: an upstream without least_time is balanced by nginx alone
--- http_config
    upstream app {
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo 1992; } }
--- config
    location = /t { proxy_pass http://app; }
--- request
GET /t
--- response_body_like: ^199[12]$
--- no_error_log
least time
upstream latency
[error]



=== TEST 2: least_conn next to the module is untouched
--- http_config
    upstream app {
        least_conn;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo 1992; } }
--- config
    location = /t { proxy_pass http://app; }
--- request
GET /t
--- response_body_like: ^199[12]$
--- no_error_log
least time
upstream latency
[error]
