# An upgraded connection (101, as for WebSocket) has a response time, the
# time to its 101 header; the tunnel that follows has a lifetime, which is
# no response time.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;
use RawBackend;

LatencyTest::file_ports(1);

# switches at once, keeps the tunnel open 1.5 s, then closes it
RawBackend::start(port => $ENV{TEST_NGINX_FILE_PORT_1}, hold => 1.5, response =>
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
    . "Connection: Upgrade\r\n\r\n");

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: the time to the 101 header is both samples; the tunnel is not
Before, the tunnel's lifetime (here 1.5 s, in production hours, clamped to
67 s) became an exact last_byte sample: every WebSocket that closed pinned
its server as slow.
--- http_config
    upstream app {
        least_time last_byte;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 down;
    }
--- config
    location = /ws {
        proxy_pass http://app;
        proxy_http_version 1.1;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection "upgrade";
    }
--- request
GET /ws
--- more_headers
Upgrade: websocket
Connection: Upgrade
--- error_code: 101
--- ignore_response_body
--- timeout: 5
--- wait: 0.5
--- error_log eval
qr/upstream latency sample: header [1-9]\d{1,4}us, response [1-9]\d{1,4}us, upgraded$/m
--- no_error_log eval
qr/upstream latency sample: header \d+us(?: or more)?, response \d{6,}us/
