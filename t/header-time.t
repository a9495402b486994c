# The header time is taken when the response header arrives, on the
# monotonic microsecond clock, not derived from nginx's millisecond times.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: the header time is measured, whatever nginx's clock resolution
The backend sends its header at once and its body 200 ms later.  With
timer_resolution, nginx's own times move in 100 ms steps: the header time
derived from them was off by up to 100 ms, or went negative and was
recorded as an exact 1 us.  Measured, it is under 10 ms, above 10 us.
--- main_config
    timer_resolution 100ms;
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
             location / { echo head; echo_flush; echo_sleep 0.2; echo tail; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
             location / { echo head; echo_flush; echo_sleep 0.2; echo tail; } }
--- config
    location = /t { echo_location /app; echo_location /app;
                    echo_location /app; echo_location /app; }
    location = /app { proxy_pass http://app; }
--- request
GET /t
--- response_body eval
"head\ntail\n" x 4
--- grep_error_log eval
qr/upstream latency sample: header \d+us/
--- grep_error_log_out eval
qr/\A(?:upstream latency sample: header [1-9]\d{1,3}us\n){4}\z/
