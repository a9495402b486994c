# A response after Early Hints (103) is judged by its own status.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;
use RawBackend;

LatencyTest::file_ports(1);
# 103 Early Hints, then a 500
RawBackend::start(port => $ENV{TEST_NGINX_FILE_PORT_1}, response =>
    "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
    . "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n"
    . "Connection: close\r\n\r\nbad\n");

no_long_string();
run_tests();

__DATA__

=== TEST 1: a 500 after Early Hints is a failure
nginx 1.29 passes a 103 on and reads the final response after it; the
protocol module keeps the first status it parsed, 103, in the attempt's
state, and the module read the status there: the 500 was a fast, exact
answer (weighted_random two, so that nginx 1.31 and later run it too).
--- skip_nginx: 2: < 1.29.0
--- http_config
    upstream app {
        weighted_random two least_time=header;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 down;
    }
--- config
    location = /t { proxy_pass http://app; }
--- request
GET /t
--- error_code: 500
--- error_log eval
qr/upstream latency sample: header 10000000us or more, response 10000000us or more$/m
