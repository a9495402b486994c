# Subrequests measure as requests do.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: a subrequest kept in memory is a complete response
SSI's include with set= keeps the subrequest's body in memory.  nginx reads
it through the buffered pipe as any other (since 1.13.10); the module
looked at the body's length instead, which the pipe does not count down,
and took the whole response for one broken off: a failure.
--- http_config
    upstream app {
        least_time last_byte;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
             location / { return 200 "hello\n"; } }
--- config
    location = /t {
        ssi on;
        default_type text/html;
        echo '<!--# include virtual="/app" set="v" -->[<!--# echo var="v" -->]';
    }
    location = /app { proxy_pass http://app; }
--- request
GET /t
--- response_body_like: ^\[hello
--- error_log eval
qr/upstream latency sample: header \d+us, response \d+us$/m
--- no_error_log eval
qr/upstream latency sample: header 10000000us/
