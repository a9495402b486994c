# Several requests per block: request eval arrays, pipelined requests,
# packets, per-request expectations and error_log checks after each one.
use Test::Nginx::Socket 'no_plan';

repeat_each(2);
no_shuffle();
run_tests();

__DATA__

=== TEST 1: request eval with an array: one connection each
--- config
    location = /a { echo a; }
    location = /b { return 404; }
--- request eval
["GET /a", "GET /b"]
--- error_code eval
[200, 404]
--- response_body_like eval
["^a\n\$", "Not Found"]
--- no_error_log
[error]



=== TEST 2: per-request body filters (two-dimensional array)
--- config
    location = /t { echo hello; }
--- request eval
["GET /t", "GET /t"]
--- response_body_filters eval
[[\&CORE::uc, \&CORE::lc], [\&CORE::uc]]
--- response_body eval
["hello\n", "HELLO\n"]



=== TEST 3: pipelined requests over one keep-alive connection
--- config
    location = /t { echo "$uri $http_connection"; }
    location = /u { echo_read_request_body; echo "body: $request_body"; }
--- pipelined_requests eval
["GET /t", "POST /u\nhiya"]
--- response_body eval
["/t keep-alive\n", "body: hiya\n"]



=== TEST 4: a request split into packets, with a delay
--- config
    location = /t { echo_read_request_body; echo "[$request_body]"; }
--- request eval
[["POST /t\nhel", {value => "lo", delay_before => 0.1}]]
--- response_body
[hello]



=== TEST 5: more_headers as an array, one per request
--- config
    location = /t { echo "x=$http_x"; }
--- request eval
["GET /t", "GET /t"]
--- more_headers eval
["X: 1", "X: 2"]
--- response_body eval
["x=1\n", "x=2\n"]



=== TEST 6: raw_request sent as is
--- config
    location = /t { echo "proto=$server_protocol"; }
--- raw_request eval
"GET /t HTTP/1.0\r\nHost: localhost\r\n\r\n"
--- response_body
proto=HTTP/1.0



=== TEST 7: client timeout with --- abort is not a failure
--- config
    location = /t { echo_sleep 1; echo ok; }
--- request
GET /t
--- timeout: 200ms
--- abort
--- ignore_response
