# Every form of server line makes peers the module measures and chooses:
# IPv6 and unix-socket addresses, one address written twice, very large
# weights.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;
use IO::Socket::IP;

IO::Socket::IP->new(LocalHost => '::1', LocalPort => 0, Listen => 1)
    or LatencyTest::cannot_run("no IPv6 on loopback (::1): $@");

# the unix-socket backend's path, in the server root, which outlives nginx
$ENV{TEST_NGINX_BACKEND_SOCKET} = server_root() . '/logs/backend.sock';

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: least_time measures IPv6 and unix-socket servers
The IPv6 and the unix-socket servers answer in 100 ms, the IPv4 one at
once: each slow one is probed once, then avoided.  Round robin gives each
a third; a server the module could not measure would stay scored 0, as
new, and take every request.
--- http_config
    upstream app {
        least_time header;
        server [::1]:$TEST_NGINX_RAND_PORT_1;
        server unix:$TEST_NGINX_BACKEND_SOCKET;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen [::1]:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.1; echo ipv6; } }
    server { listen unix:$TEST_NGINX_BACKEND_SOCKET; location / { echo_sleep 0.1; echo unix; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo ipv4; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(30, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(ipv4 => [26, 28], ipv6 => [1, 2], unix => [1, 2])
--- timeout: 10



=== TEST 2: one address written twice is two peers, each measured
The slow address is listed twice: each entry is probed once, then both
are avoided.  Round robin sends it two thirds; entries sharing one
measurement slot would probe it once (slow: 1).
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.3; echo slow; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo fast; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(40, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body
fast: 38
slow: 2
--- timeout: 10



=== TEST 3: weighted_random draws by weights of a million
Weights 1000000, 250000 and 1 over 400 draws: 320, 80 and 0 expected
(sigma 8); weights cut to 16 bits (16960, 53392) would reverse the first
two.
--- http_config
    upstream app {
        weighted_random;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 weight=1000000;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 weight=250000;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3 weight=1;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo heavy; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo medium; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3; location / { echo light; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(400, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(heavy => [280, 360], light => [0, 0], medium => [40, 120])
--- timeout: 20
