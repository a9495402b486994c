# least_time serves every module built on nginx's upstream peer interface.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: grpc_pass to HTTP/2 backends
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 http2; location / { echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 http2; location / { echo 1992; } }
--- config
    location = /t { grpc_pass grpc://app; }
--- request
GET /t
--- response_body_like: ^199[12]$
--- error_log eval
qr/least time peer 127\.0\.0\.1:\d+/
--- no_error_log
[error]



=== TEST 2: fastcgi_pass chooses its peer through least_time
The test backends speak HTTP, not FastCGI: the answer is a 502, but the
choice and the failed attempt are the module's.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo 1991; } }
--- config
    location = /t { fastcgi_pass app; }
--- request
GET /t
--- error_code: 502
--- error_log eval
[qr/get least time peer, try: 1/,
 qr/upstream latency sample: header 10000000us or more/]



=== TEST 3: uwsgi_pass chooses its peer through least_time
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo 1991; } }
--- config
    location = /t { uwsgi_pass app; }
--- request
GET /t
--- error_code: 400
--- error_log
get least time peer, try: 1
upstream latency sample



=== TEST 4: scgi_pass chooses its peer through least_time
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo 1991; } }
--- config
    location = /t { scgi_pass app; }
--- request
GET /t
--- error_code: 400
--- error_log
get least time peer, try: 1
upstream latency sample
