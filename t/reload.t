# Statistics survive "nginx -s reload" for the peers that remain.
BEGIN { $ENV{TEST_NGINX_USE_HUP} = 1; }

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;
use JSON::PP;

no_shuffle();
no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: least_time learns that 1992 is slow
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:1992;
        server 127.0.0.1:1991;
    }
    server { listen 127.0.0.1:1992; location / { echo_sleep 0.3; echo 1992; } }
    server { listen 127.0.0.1:1991; location / { echo_sleep 0.002; echo 1991; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(10, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body
1991: 9
1992: 1



=== TEST 2: after a reload that adds 1993, 1992 is still known to be slow
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:1992;
        server 127.0.0.1:1991;
        server 127.0.0.1:1993;
    }
    server { listen 127.0.0.1:1992; location / { echo_sleep 0.3; echo 1992; } }
    server { listen 127.0.0.1:1991; location / { echo_sleep 0.002; echo 1991; } }
    server { listen 127.0.0.1:1993; location / { echo_sleep 0.002; echo 1993; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(10, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [1, 9], 1993 => [1, 9])
--- error_log
3 peers in
2 kept from the previous configuration



=== TEST 3: a reload that removes 1992 drops its statistics
The two remaining servers answer in about 2 ms: which one takes the four
requests depends on their averages; 1992 gets none.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:1991;
        server 127.0.0.1:1993;
    }
    server { listen 127.0.0.1:1991; location / { echo_sleep 0.002; echo 1991; } }
    server { listen 127.0.0.1:1993; location / { echo_sleep 0.002; echo 1993; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(4, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [0, 4], 1993 => [0, 4])



=== TEST 4: 1992 added back is a new peer and is probed again
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:1992;
        server 127.0.0.1:1991;
        server 127.0.0.1:1993;
    }
    server { listen 127.0.0.1:1992; location / { echo_sleep 0.3; echo 1992; } }
    server { listen 127.0.0.1:1991; location / { echo_sleep 0.002; echo 1991; } }
    server { listen 127.0.0.1:1993; location / { echo_sleep 0.002; echo 1993; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(10, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [1, 8], 1992 => [1, 1], 1993 => [1, 8])



=== TEST 5: the status counters of a remaining peer survive the reloads
1991 took 9 requests in TEST 1 alone; this block sends it none.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:1991;
        server 127.0.0.1:1993;
    }
--- config
    location = /upstreams { upstream_latency_status; }
--- request
GET /upstreams
--- response_body_filters eval
sub { my ($peer) = grep { $_->{server} eq '127.0.0.1:1991' }
                   @{ JSON::PP::decode_json(shift)->{upstreams}[0]{peers} };
      "1991 requests at least 9: " . ($peer->{requests} >= 9 ? "yes\n" : "no ($peer->{requests})\n") }
--- response_body
1991 requests at least 9: yes
