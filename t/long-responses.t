# A response that streams for long after its header (server-sent events,
# long polling, a large download) keeps its request active, but its age
# no longer counts as waiting: it does not make its server look hung.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

no_long_string();
run_tests();

__DATA__

=== TEST 1: a streaming response does not freeze its server out
1991 answers in 1 ms, 1992 in 50 ms.  A stream to 1991 stays open for
3 s; after 1 s, ten requests.  With inflight, its age made 1991 look a
second slow and 1992 took all ten; now 1991 scores 1 ms x (1 + 1 active)
and takes them (at least 6 of 10: on a loaded machine noise makes some
ties).  1992 is 50 ms slow so that the gap outlasts the averages' decay
during the second's wait and a loaded machine's noise.
--- http_config
    upstream app {
        least_time last_byte inflight;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
             location /fast { echo_sleep 0.001; echo 1991; }
             location /stream { echo stream; echo_flush; echo_sleep 3;
                                echo stream; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
             location /fast { echo_sleep 0.05; echo 1992; }
             location /stream { echo stream; echo_flush; echo_sleep 3;
                                echo stream; } }
--- config eval
"location = /t {
     ${\ LatencyTest::requests(4, '/fast') }
     echo_location_async /stream;
     echo_sleep 1;
     ${\ LatencyTest::requests(10, '/fast') }
 }
 location /fast { proxy_pass http://app; }
 location /stream { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [9, 14], 1992 => [0, 5], stream => [2, 2])
--- timeout: 10
