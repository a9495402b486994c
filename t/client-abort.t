# A client that goes away tells nothing about the server: the header time
# stays what the server took to answer, and the rest is only a lower bound.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: a client leaving mid-body leaves the header time exact
The backend sends its header at once and the rest of its body 3 s later;
the client leaves after half a second.  Before, the header sample was the
half second the client waited, recorded as exact: any client could push
the fastest server out of rotation by opening a download and closing it.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
             location / { echo head; echo_flush; echo_sleep 3; echo tail; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
             location / { echo head; echo_flush; echo_sleep 3; echo tail; } }
--- config
    location = /t { proxy_pass http://app; }
--- request
GET /t
--- abort
--- timeout: 0.5
--- wait: 0.5
--- ignore_response
--- error_log eval
qr/upstream latency sample: header [1-9]\d{1,4}us, response [4-9]\d{5}us or more$/m



=== TEST 2: a client leaving before the header makes a lower bound
The backend answers after 3 s; the client leaves after half a second.  The
server took at least that long: the sample only raises its average.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 3; echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 3; echo 1992; } }
--- config
    location = /t { proxy_pass http://app; }
--- request
GET /t
--- abort
--- timeout: 0.5
--- wait: 0.5
--- ignore_response
--- error_log eval
qr/upstream latency sample: header [4-9]\d{5}us or more, response [4-9]\d{5}us or more$/m



=== TEST 3: without buffering too, a client leaving before the header makes a lower bound
As TEST 2 with proxy_buffering off.  Before the header nginx has not set the
length of the body left to read (0 until then), and the attempt was taken
for a complete empty response: the half second recorded as an exact
response time.
--- http_config
    upstream app {
        least_time last_byte;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 3; echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 3; echo 1992; } }
--- config
    location = /t { proxy_pass http://app; proxy_buffering off; }
--- request
GET /t
--- abort
--- timeout: 0.5
--- wait: 0.5
--- ignore_response
--- error_log eval
qr/upstream latency sample: header [4-9]\d{5}us or more, response [4-9]\d{5}us or more$/m
