# Stream (TCP) upstreams: least_time connect | first_byte | last_byte and
# weighted_random choose by the times measured of each session.  The
# stream servers proxy to http servers whose answers take echo_sleep; the
# sessions are driven by http subrequests through the stream proxy.
# nginx's one worker serves the client, the proxy and the backends: on a
# loaded machine, a hiccup of the fast backend above the slow one's time
# sends the slow one sessions until the hiccup has decayed; the bounds
# allow 10% of the sessions (round robin: half), and the slowest backends
# take 300 ms, which hiccups rarely reach.
# Ports: the stream listener on $TEST_NGINX_RAND_PORT_0, backend 199N on
# $TEST_NGINX_RAND_PORT_N (it answers "199N").
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: least_time first_byte: the server that answers first takes nearly every session
--- main_config
    stream {
        upstream app {
            least_time first_byte;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
    }
--- http_config
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 0.3; echo 1992; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.002; echo 1991; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(100, '/app') } }
 location = /app { proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_0; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [90, 100], 1992 => [0, 10])
--- timeout: 20



=== TEST 2: least_time connect: connecting takes the same time to both, so they share
Both accept at once on loopback; that one answers late does not count
(by first_byte, 1991 would take 36 or more).
--- main_config
    stream {
        upstream app {
            least_time connect;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
    }
--- http_config
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 0.05; echo 1992; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.002; echo 1991; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(40, '/app') } }
 location = /app { proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_0; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [8, 32], 1992 => [8, 32])
--- timeout: 20



=== TEST 3: least_time last_byte: the session that ends first wins over the first byte
1992 sends its first bytes at once and ends 100 ms later; 1991 answers
whole in 30 ms.
--- main_config
    stream {
        upstream app {
            least_time last_byte;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
    }
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { echo 1992; echo_flush; echo_sleep 0.1; }
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.03; echo 1991; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(60, '/app') } }
 location = /app { proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_0; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [54, 60], 1992 => [0, 6])
--- timeout: 20



=== TEST 4: least_time first_byte with the same servers: the early first byte wins
--- main_config
    stream {
        upstream app {
            least_time first_byte;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
    }
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        location / { echo 1992; echo_flush; echo_sleep 0.1; }
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.03; echo 1991; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(60, '/app') } }
 location = /app { proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_0; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [0, 6], 1992 => [54, 60])
--- timeout: 20



=== TEST 5: weighted_random two least_time=first_byte: the better of two draws
--- main_config
    stream {
        upstream app {
            weighted_random two least_time=first_byte;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
    }
--- http_config
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 0.3; echo 1992; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.002; echo 1991; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(100, '/app') } }
 location = /app { proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_0; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [90, 100], 1992 => [0, 10])
--- timeout: 20



=== TEST 6: weighted_random draws by weight
--- main_config
    stream {
        upstream app {
            weighted_random;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 weight=3;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
    }
--- http_config
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo 1992; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo 1991; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(200, '/app') } }
 location = /app { proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_0; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [25, 75], 1992 => [125, 175])
--- timeout: 20



=== TEST 7: backup servers only when no primary server is usable
--- main_config
    stream {
        upstream app {
            least_time first_byte;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 down;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 backup;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
    }
--- http_config
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo 1992; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo 1991; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(10, '/app') } }
 location = /app { proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_0; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body
1991: 10
