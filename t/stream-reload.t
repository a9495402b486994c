# Stream upstreams: statistics survive "nginx -s reload" for the servers
# that remain, in the stream block's own zone.
BEGIN { $ENV{TEST_NGINX_USE_HUP} = 1; }

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

# backend 199N on $TEST_NGINX_FILE_PORT_N, the same in every block; the
# stream listener on the block's $TEST_NGINX_RAND_PORT_0
LatencyTest::file_ports(3);

no_shuffle();
no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: least_time learns that 1992 is slow
--- main_config
    stream {
        upstream app {
            least_time first_byte;
            server 127.0.0.1:$TEST_NGINX_FILE_PORT_2;
            server 127.0.0.1:$TEST_NGINX_FILE_PORT_1;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
    }
--- http_config
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_2; location / { echo_sleep 0.3; echo 1992; } }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_1; location / { echo_sleep 0.002; echo 1991; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(10, '/app') } }
 location = /app { proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_0; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body
1991: 9
1992: 1
--- error_log
upstream latency zone "stream_upstream_latency": 2 peers in



=== TEST 2: after a reload that adds 1993, 1992 is still known to be slow
Slow start off: 1993, new, is probed at once (t/slow-start.t ramps it
up); how 1991 and 1993 (both 2 ms) share depends on the hiccups 1991's
kept average holds, and is not the point.
--- main_config
    stream {
        upstream app {
            least_time first_byte;
            upstream_latency_slow_start off;
            server 127.0.0.1:$TEST_NGINX_FILE_PORT_2;
            server 127.0.0.1:$TEST_NGINX_FILE_PORT_1;
            server 127.0.0.1:$TEST_NGINX_FILE_PORT_3;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
    }
--- http_config
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_2; location / { echo_sleep 0.3; echo 1992; } }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_1; location / { echo_sleep 0.002; echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_3; location / { echo_sleep 0.002; echo 1993; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(10, '/app') } }
 location = /app { proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_0; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [0, 9], 1993 => [1, 10])
--- error_log
3 peers in
2 kept from the previous configuration



=== TEST 3: a reload that removes 1992 drops its statistics
--- main_config
    stream {
        upstream app {
            least_time first_byte;
            server 127.0.0.1:$TEST_NGINX_FILE_PORT_1;
            server 127.0.0.1:$TEST_NGINX_FILE_PORT_3;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
    }
--- http_config
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_1; location / { echo_sleep 0.002; echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_3; location / { echo_sleep 0.002; echo 1993; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(4, '/app') } }
 location = /app { proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_0; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [0, 4], 1993 => [0, 4])
--- error_log
2 kept from the previous configuration



=== TEST 4: 1992 added back is a new server and is tried again
Slow start off, as in TEST 2.
--- main_config
    stream {
        upstream app {
            least_time first_byte;
            upstream_latency_slow_start off;
            server 127.0.0.1:$TEST_NGINX_FILE_PORT_2;
            server 127.0.0.1:$TEST_NGINX_FILE_PORT_1;
            server 127.0.0.1:$TEST_NGINX_FILE_PORT_3;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
    }
--- http_config
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_2; location / { echo_sleep 0.3; echo 1992; } }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_1; location / { echo_sleep 0.002; echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_3; location / { echo_sleep 0.002; echo 1993; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(10, '/app') } }
 location = /app { proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_0; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [0, 9], 1992 => [1, 1], 1993 => [0, 9])
