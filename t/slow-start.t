# Slow start: a server that joins a loaded pool gets no surge.  A server
# added on reload has no measurement; without slow start it scores best,
# and every request chosen before its first answer goes to it.
BEGIN { $ENV{TEST_NGINX_USE_HUP} = 1; }

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

LatencyTest::file_ports(4);    # backend N on $TEST_NGINX_FILE_PORT_N answers 199N

# $n requests to $uri started at once, in one pass of the event loop.
sub burst {
    my ($n, $uri) = @_;
    return "echo_location_async $uri;\n" x $n;
}

no_shuffle();
no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: two servers of 50 ms are measured
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_1;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_1; location / { echo_sleep 0.05; echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_2; location / { echo_sleep 0.05; echo 1992; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(6, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [1, 5], 1992 => [1, 5])



=== TEST 2: a server added on reload gets no surge
1993 joins with a ramp of 30 s, at 10% of its weight for the first 3 s.
12 requests start at once (as from many clients under load): 1993's
share is 4.  Not yet measured, it counts as fast as the others (50 ms),
not as instant, and each request in flight to it counts as 10: it gets
one, or two.  Without slow start it gets them all (TEST 3; main's module
before slow start gave it 12).
--- http_config
    upstream app {
        least_time header;
        upstream_latency_slow_start 30s;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_1;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_2;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_3;
    }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_1; location / { echo_sleep 0.05; echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_2; location / { echo_sleep 0.05; echo 1992; } }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_3; location / { echo_sleep 0.05; echo 1993; } }
--- config eval
"location = /t { ${\ main::burst(12, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [2, 12], 1992 => [2, 12], 1993 => [0, 2])
--- error_log
3 peers in
2 kept from the previous configuration



=== TEST 3: without slow start, a server added on reload takes the burst
The same burst over 1991, 1992, 1993, now measured, and 1994, added with
slow start off: 1994 scores the floor (1 ms), then the short wait of
its requests, and gets far more than its share of 3.
--- http_config
    upstream app {
        least_time header;
        upstream_latency_slow_start off;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_1;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_2;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_3;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_4;
    }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_1; location / { echo_sleep 0.05; echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_2; location / { echo_sleep 0.05; echo 1992; } }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_3; location / { echo_sleep 0.05; echo 1993; } }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_4; location / { echo_sleep 0.05; echo 1994; } }
--- config eval
"location = /t { ${\ main::burst(12, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [0, 3], 1992 => [0, 3], 1993 => [0, 3],
                    1994 => [9, 12])
--- error_log
4 peers in
3 kept from the previous configuration



=== TEST 4: weighted_random over two of the servers
--- http_config
    upstream app {
        weighted_random;
        upstream_latency_slow_start 60s;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_1;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_1; location / { echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_2; location / { echo 1992; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(30, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [5, 25], 1992 => [5, 25])



=== TEST 5: weighted_random draws a server added on reload by its ramped weight
1993 joins with a ramp of 60 s, at 10% of its weight for the first 6 s:
0.1 / 2.1 = 4.8% of the draws, 14 of 300 requests one after another
(binomial sigma 3.7); at most 28 allowed (3.7 sigma).  Drawn again only
once when not kept, it took 40 to 49.
--- http_config
    upstream app {
        weighted_random;
        upstream_latency_slow_start 60s;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_1;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_2;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_3;
    }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_1; location / { echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_2; location / { echo 1992; } }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_3; location / { echo 1993; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(300, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [100, 200], 1992 => [100, 200], 1993 => [0, 28])
--- error_log
3 peers in
2 kept from the previous configuration
--- timeout: 20
