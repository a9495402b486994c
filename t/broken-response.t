# A response the server breaks off is a failure of the server: it counts as
# slow and in "fails", like a refused connection, never as a fast response.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;
use RawBackend;

LatencyTest::file_ports(3);

# 1: a header promising 100000 bytes, 10 of them, and the close
RawBackend::start(port => $ENV{TEST_NGINX_FILE_PORT_1}, response =>
    "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n0123456789");
# 2: a chunked body cut off after its first chunk
RawBackend::start(port => $ENV{TEST_NGINX_FILE_PORT_2}, response =>
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n");
# 3: a header, then nothing for longer than proxy_read_timeout
RawBackend::start(port => $ENV{TEST_NGINX_FILE_PORT_3}, hold => 3, response =>
    "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc");

no_long_string();
no_shuffle();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: a body shorter than its Content-Length is a failure
Recorded as a fast, complete 2xx response before, so that least_time
last_byte sent it the traffic.
--- http_config
    upstream app {
        least_time last_byte;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_1;
    }
--- config
    location = /t { proxy_pass http://app; }
--- request
GET /t HTTP/1.0
--- response_body_like: ^0123456789
--- error_log
upstream latency sample: header 10000000us or more, response 10000000us or more
upstream prematurely closed connection



=== TEST 2: a chunked body cut off is a failure
--- http_config
    upstream app {
        least_time last_byte;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_2;
    }
--- config
    location = /t { proxy_pass http://app; }
--- request
GET /t HTTP/1.0
--- response_body_like: ^hello
--- error_log
upstream latency sample: header 10000000us or more, response 10000000us or more
upstream prematurely closed connection



=== TEST 3: a timeout in the body is a failure
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_3;
    }
--- config
    location = /t { proxy_pass http://app; proxy_read_timeout 300ms; }
--- request
GET /t HTTP/1.0
--- response_body_like: ^(?:abc)?$
--- error_log
upstream latency sample: header 10000000us or more, response 10000000us or more
upstream timed out



=== TEST 4: a timeout in an unbuffered body is a failure
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_3;
    }
--- config
    location = /t {
        proxy_pass http://app;
        proxy_read_timeout 300ms;
        proxy_buffering off;
    }
--- request
GET /t HTTP/1.0
--- response_body: abc
--- error_log
upstream latency sample: header 10000000us or more, response 10000000us or more
upstream timed out



=== TEST 5: a server breaking its bodies off loses the traffic
The first server breaks every body off at once, the second answers whole
in 20 ms.  Of 12 requests under least_time last_byte, the breaking one gets
the first of a tie at most (it took nearly all before), and it is counted
in "fails".
--- http_config
    upstream app {
        least_time last_byte;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_1;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.02; echo 1991; } }
--- config
    location = /t { proxy_pass http://app; }
    location = /upstreams { upstream_latency_status; }
--- request eval
[("GET /t HTTP/1.0") x 12, "GET /upstreams"]
--- response_body_like eval
[(qr/^(?:1991\n|0123456789)$/) x 12,
 qr/"server":"127\.0\.0\.1:$ENV{TEST_NGINX_FILE_PORT_1}",(?:(?!"server").)*"requests":1,
     (?:(?!"server").)*"fails":1,/sx]
