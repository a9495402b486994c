# least_time serves every module built on nginx's upstream peer interface.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;
use RawBackend;

# memcached servers for TEST 5: each answers any get with its label, the
# slow one 100 ms later
LatencyTest::file_ports(2);
for (['fast', 0, 1], ['slow', 0.1, 2]) {
    my ($label, $delay, $n) = @$_;
    RawBackend::start(port => $ENV{"TEST_NGINX_FILE_PORT_$n"},
                      request_end => qr/\r\n/, delay => $delay,
                      response => "VALUE k 0 5\r\n$label\n\r\nEND\r\n");
}

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



=== TEST 5: memcached_pass avoids the slow memcached server
Each server is probed once while unmeasured; then the 100 ms one is
avoided.  Round robin, or a module that does not measure memcached
answers, gives it half the requests.
--- http_config
    upstream memcached {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_1;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_2;
    }
--- config eval
"location = /t { ${\ LatencyTest::requests(20, '/memcached') } }
 location = /memcached { set \$memcached_key k; memcached_pass memcached; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(fast => [17, 19], slow => [1, 3])
--- no_error_log
[error]
