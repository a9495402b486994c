# What nginx sends from its cache instead of the server's response, and the
# bodies it reads on for its cache, are judged as the server's attempt
# went: a 500 answered with a stale cached page is still the server's
# failure, and a body it breaks off while nginx caches it is one too.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;
use RawBackend;

LatencyTest::file_ports(1);
# a cacheable header promising 100000 bytes, 10 of them, and the close
RawBackend::start(port => $ENV{TEST_NGINX_FILE_PORT_1}, response =>
    "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n"
    . "Cache-Control: max-age=60\r\n\r\n0123456789");

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: a 500 answered with a stale cached response is a failure
The first request caches a page that expires at once (X-Accel-Expires in
the past); the second finds the server answering 500, and
proxy_cache_use_stale sends the cached page instead.  Its header passed
the module's filter with the cached status, 200, so that the 500 was
recorded as a fast, exact answer and not counted as a failure.
--- http_config
    proxy_cache_path stale_cache keys_zone=stale:1m;
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
             location / { if ($arg_fail) { return 500; }
                          add_header X-Accel-Expires @1; echo ok; } }
--- config
    location = /t { echo_location /c; echo_location /c fail=1; }
    location = /c { proxy_cache stale; proxy_cache_key /c;
                    proxy_cache_use_stale http_500; proxy_pass http://app; }
--- request
GET /t
--- response_body
ok
ok
--- error_log eval
qr/upstream latency sample: header 10000000us or more, response 10000000us or more$/m



=== TEST 2: a body broken off while nginx reads it for the cache is a failure
The client asks HEAD through proxy_cache, which asks the server GET and
reads the body on to cache it after the header is sent: the server closes
after 10 of its 100000 bytes.  A response without a body for the client
counted as complete with its header before, whatever the server did next.
--- http_config
    proxy_cache_path head_cache keys_zone=head:1m;
    upstream app {
        least_time last_byte;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_1;
    }
--- config
    location = /t { proxy_cache head; proxy_pass http://app; }
--- request
HEAD /t
--- ignore_response
--- wait: 0.3
--- error_log
upstream prematurely closed connection
upstream latency sample: header 10000000us or more, response 10000000us or more
