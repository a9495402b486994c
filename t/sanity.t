# least_time is accepted in its three forms and proxies requests.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: least_time header chooses among the servers of the upstream
--- http_config
    upstream app {
        least_time header;
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
--- error_log eval
['get least time peer, try: 2', qr/least time peer 127\.0\.0\.1:\d+/]
--- no_error_log
[error]



=== TEST 2: least_time last_byte inflight is accepted and records samples
--- http_config
    upstream app {
        least_time last_byte inflight;
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
--- error_log eval
[qr/least time peer 127\.0\.0\.1:\d+, score 1\.000ms of 2/,
 qr/upstream latency sample: header \d+us, response \d+us$/m]
--- no_error_log
[error]



=== TEST 3: a single server is measured too
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo 1991; } }
--- config
    location = /t { proxy_pass http://app; }
--- request
GET /t
--- response_body
1991
--- error_log eval
[qr/get least time peer, try: 1/,
 qr/upstream latency sample: header \d+us, response \d+us$/m]
--- no_error_log
[error]



=== TEST 4: the upstream may live in nginx's shared zone
--- http_config
    upstream app {
        zone app 64k;
        least_time header;
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
--- error_log eval
[qr/least time peer 127\.0\.0\.1:\d+/,
 'upstream latency zone "upstream_latency": 2 peers']
--- no_error_log
[error]
