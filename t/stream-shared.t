# Stream upstreams: one latency table for all worker processes.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

master_on();
workers(2);
no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: a server learned slow through one worker is avoided by the other
Sessions reach the stream listener on new connections; with reuseport the
kernel spreads them over both workers (the info lines of the error log
name each session's worker).  The slow server is listed first, so each
worker would try it once if each kept its own statistics.
--- main_config
    stream {
        upstream app {
            least_time first_byte;
            server 127.0.0.1:1992;
            server 127.0.0.1:1991;
        }
        server { listen 127.0.0.1:1990 reuseport; proxy_pass app; }
    }
--- http_config
    server { listen 127.0.0.1:1992; location / { echo_sleep 0.3; echo slow; } }
    server { listen 127.0.0.1:1991; location / { echo_sleep 0.002; echo fast; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(40, '/app') } }
 location = /app { proxy_pass http://127.0.0.1:1990; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body
fast: 39
slow: 1
--- log_level: info
--- grep_error_log eval: qr/\d+#\d+: \*\d+ proxy \S+ connected to 127.0.0.1:1992/
--- grep_error_log_out eval
qr/\A\d+#\d+: \*\d+ proxy \S+ connected to 127.0.0.1:1992\n\z/
--- timeout: 10
