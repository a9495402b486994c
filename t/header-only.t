# A response the client gets without a body: complete with its header only
# when the server had none to send.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: a HEAD answered 204 is complete with its header
A response without a body for the client (a HEAD's; over HTTP/2, any 204
or 304) ends with its header; a 204 or a 304 had no body to send either.
--- http_config
    upstream app {
        least_time last_byte;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
             location / { return 204; } }
--- config
    location = /t { proxy_pass http://app; }
--- request
HEAD /t
--- error_code: 204
--- error_log eval
qr/upstream latency sample: header \d+us, response \d+us$/m



=== TEST 2: a HEAD answered with a body nginx does not read is no complete response
proxy_cache asks the server GET for a client's HEAD; the response is not
cacheable, so nginx ends the attempt with the header, the body (sent after
1 s) unread.  That was recorded as a complete response of a few
milliseconds: least_time last_byte then took the slowest server for the
fastest.
--- http_config
    proxy_cache_path head_cache keys_zone=head:1m;
    upstream app {
        least_time last_byte;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
             location / { echo head; echo_flush; echo_sleep 1; echo tail; } }
--- config
    location = /t { proxy_cache head; proxy_pass http://app; }
--- request
HEAD /t
--- ignore_response
--- wait: 0.2
--- error_log eval
qr/upstream latency sample: header \d+us, response \d+us or more$/m



=== TEST 3: a HEAD the server answers without a body on a kept connection is complete
Over HTTP/1.1 to a keepalive upstream, nginx reads the whole answer to a
HEAD with its header and keeps the connection: nothing was left unread.
--- http_config
    upstream app {
        least_time last_byte;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        keepalive 8;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
             location / { echo hello; } }
--- config
    location = /t {
        proxy_pass http://app;
        proxy_http_version 1.1;
        proxy_set_header Connection '';
    }
--- request
HEAD /t
--- error_log eval
qr/upstream latency sample: header \d+us, response \d+us$/m
