# Old estimates fade, so a peer that was slow is probed again; how often
# depends on upstream_latency_half_life.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: with a 50 ms half-life a 100 ms peer is probed every few hundred ms
From 100 ms down to 2 ms * 1.125 takes log2(100 / 2.25) = 5.5 half-lives,
about 270 ms; 400 requests of 2 ms take about a second.
--- http_config
    upstream app {
        least_time header;
        upstream_latency_half_life 50ms;
        server 127.0.0.1:1992;
        server 127.0.0.1:1991;
    }
    server { listen 127.0.0.1:1992; location / { echo_sleep 0.1; echo 1992; } }
    server { listen 127.0.0.1:1991; location / { echo_sleep 0.002; echo 1991; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(400, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [392, 398], 1992 => [2, 8])
--- timeout: 20



=== TEST 2: with the default 1 s half-life the same peer is probed once
The decay to 2 ms takes about 5.5 s, longer than the 400 requests.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:1992;
        server 127.0.0.1:1991;
    }
    server { listen 127.0.0.1:1992; location / { echo_sleep 0.1; echo 1992; } }
    server { listen 127.0.0.1:1991; location / { echo_sleep 0.002; echo 1991; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(400, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body
1991: 399
1992: 1
--- timeout: 20
