# least_time composes with keepalive placed after it, and from nginx 1.29.7
# on, before it too.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: connections to the peers least_time chooses are kept and reused
1991 answers in 2 ms, 1992 in 100 ms: a gap that the hiccups of a loaded
machine do not close (against 30 ms, 1992 took 7 of 20 under make
test-stress); 1992 is probed once, then seldom.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        keepalive 8;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.002; echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 0.1; echo 1992; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(20, '/app') } }
 location = /app {
     proxy_pass http://app;
     proxy_http_version 1.1;
     proxy_set_header Connection '';
 }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [15, 19], 1992 => [1, 5])
--- error_log eval
[qr/least time peer 127\.0\.0\.1:\d+/, 'get keepalive peer: using connection']
--- no_error_log
[error]



=== TEST 2: keepalive before least_time, accepted from nginx 1.29.7 on
--- skip_nginx: 5: < 1.29.7: keepalive must follow the method before nginx 1.29.7 (t/config-errors.t TEST 8)
--- http_config
    upstream app {
        keepalive 8;
        least_time header;
        server 127.0.0.1:1991;
        server 127.0.0.1:1992;
    }
    server { listen 127.0.0.1:1991; location / { echo_sleep 0.002; echo 1991; } }
    server { listen 127.0.0.1:1992; location / { echo_sleep 0.008; echo 1992; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(20, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [15, 19], 1992 => [1, 5])
--- error_log
least time peer 127.0.0.1:1991
get keepalive peer: using connection
--- no_error_log
[error]
