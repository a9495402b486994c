# nginx stopping (QUIT, as both runners stop it) while requests are in
# flight: the worker finishes them, records them in the shared table, and
# exits without an alert.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

master_on();    # the master logs a worker's death as an [alert]
no_long_string();
run_tests();

__DATA__

=== TEST 1: a request in flight when nginx stops is recorded as it ends, without alert
The client leaves after 0.2 s; with proxy_ignore_client_abort the request
waits for the 1 s backend, and nginx is stopped meanwhile.  The sample of
that second is logged during the shutdown, and no [alert] after it: a
worker crashing there (on a table gone before its last requests, say)
is logged by the master as an [alert].
--- http_config
    upstream app {
        weighted_random two least_time=header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 1; echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 1; echo 1992; } }
--- config
    location = /t { proxy_pass http://app; proxy_ignore_client_abort on; }
--- request
GET /t
--- abort
--- timeout: 0.2
--- ignore_response
--- no_error_log
upstream latency sample
--- shutdown_error_log eval
qr/upstream latency sample: header \d{7}us, response \d{7}us$/
