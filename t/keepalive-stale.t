# A cached keep-alive connection that the server closes as nginx reuses it
# says nothing of the server: nginx retries the request elsewhere, and the
# server is not counted as failed (nginx's round robin counts it against
# max_fails; its source says "TODO: inform balancer instead").  Since nginx
# 1.29.7 keeps upstream connections alive by default, this happens whenever
# a server's idle timeout meets a reuse, or a server reloads.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;
use RawBackend;

LatencyTest::file_ports(2);
# answers at once and keeps the connection; closes it on the next request
RawBackend::start(port => $ENV{TEST_NGINX_FILE_PORT_1}, keepalive => 1,
                  response => "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                              . "Connection: keep-alive\r\n\r\nfast\n");
# the same, but leaves the next request unanswered for 3 s: it hangs
RawBackend::start(port => $ENV{TEST_NGINX_FILE_PORT_2}, keepalive => 1,
                  reuse_hold => 3,
                  response => "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                              . "Connection: keep-alive\r\n\r\nfast\n");

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: a closed cached connection does not make its server unavailable
The fast server (max_fails=1) answers, then closes its cached connection
when nginx reuses it, so every second request to it is retried on the slow
one.  Counted as a failure, as round robin does, the fast server was out
for fail_timeout after its first answer (1 of 12); not counted, it answers
every other request, 6 of 12.  The slow one answers in 250 ms, so that
the fast one (a Perl process forked per connection) stays far faster on a
loaded machine (against 50 ms, it lost half its turns there).
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_1 max_fails=1 fail_timeout=30s;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        keepalive 8;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
             location / { echo_sleep 0.25; echo slow; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(12, '/app') } }
 location = /app {
     proxy_pass http://app;
     proxy_http_version 1.1;
     proxy_set_header Connection '';
 }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(fast => [5, 7], slow => [5, 7])
--- error_log eval
qr/upstream latency sample: header \d+us or more, response \d+us or more$/m
--- timeout: 10



=== TEST 2: a server that times out on a cached connection has failed
The first request opens and caches a connection; the second reuses it and
the server never answers: proxy_read_timeout.  That is the server failing
(nginx gives no try more for it, as it does for a closed connection), not
a connection closed while idle; it was taken for one before, so that a
server that hangs behind keepalive was never counted as failed.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_2 max_fails=1 fail_timeout=30s;
        keepalive 8;
    }
--- config eval
"location = /t { ${\ LatencyTest::requests(2, '/app') } }
 location = /app {
     proxy_pass http://app;
     proxy_http_version 1.1;
     proxy_set_header Connection '';
     proxy_read_timeout 300ms;
 }"
--- request
GET /t
--- ignore_response
--- error_log eval
[qr/upstream timed out/,
 qr/upstream latency sample: header 30000000us or more, response 30000000us or more$/m]
--- no_error_log
free latency peer, closed keepalive connection
--- timeout: 5
