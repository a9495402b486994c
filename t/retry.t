# A retry (proxy_next_upstream) goes to a server not yet tried for the
# request.  A 404 passed on by proxy_next_upstream http_404 is no failure:
# neither max_fails nor the module's failure penalty plays a part, so the
# fast servers that answer 404 stay the best scored.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: least_time retries on the servers not yet tried
Two fast servers answer 404, a 50 ms one answers.  Each request tries
both fast ones, then the slow one.  A retry that went back to the best
scored server would spend the three tries on the 404 servers.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { return 404 "404\n"; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { return 404 "404\n"; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3; location / { echo_sleep 0.05; echo ok; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(20, '/app') } }
 location = /app { proxy_pass http://app; proxy_next_upstream http_404; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body
ok: 20
--- timeout: 10



=== TEST 2: weighted_random two least_time=header retries on the servers not yet tried
The same: drawing again among all servers, a retry would nearly always
take a fast 404 server again (19 of 20 requests answered 404 so).
--- http_config
    upstream app {
        weighted_random two least_time=header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { return 404 "404\n"; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { return 404 "404\n"; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3; location / { echo_sleep 0.05; echo ok; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(20, '/app') } }
 location = /app { proxy_pass http://app; proxy_next_upstream http_404; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body
ok: 20
--- timeout: 10
