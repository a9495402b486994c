# Failed attempts count against a peer and never make it look fast.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: a refusing server fails over and stays out for fail_timeout
Nothing listens on 1999.  Every request succeeds; only the first one
tries 1999.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_9 max_fails=1 fail_timeout=30s;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.005; echo 1991; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(20, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body
1991: 20
--- grep_error_log eval: qr/connect\(\) failed/
--- grep_error_log_out
connect() failed



=== TEST 2: a server refusing in 0.1 ms is not taken for the fastest
With max_fails=0 nginx never marks 1999 unavailable; the failure counts
as a response time of fail_timeout, so least_time avoids it anyway, where
round robin would try it for every other request.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_9 max_fails=0;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.005; echo 1991; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(20, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body
1991: 20
--- grep_error_log eval: qr/connect\(\) failed/
--- grep_error_log_out
connect() failed
--- error_log eval
qr/upstream latency sample: header 10000\d{3}us or more/



=== TEST 3: fast 5xx responses do not attract traffic
1991 answers 500 at once; it is tried once and then avoided.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { return 500 "1991\n"; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 0.005; echo 1992; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(20, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body
1991: 1
1992: 19



=== TEST 4: a timeout counts as slow and the request goes on to the next
1991 hangs past proxy_read_timeout; the request is retried on 1992 and
1991 is not tried again.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 max_fails=0;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 1; echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 0.005; echo 1992; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(10, '/app') } }
 location = /app { proxy_pass http://app; proxy_read_timeout 200ms; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body
1992: 10
--- grep_error_log eval: qr/upstream timed out/
--- grep_error_log_out
upstream timed out
--- timeout: 10
