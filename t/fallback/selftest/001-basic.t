# Plain requests: echo, headers, bodies, user_files, env expansion, filters.
use Test::Nginx::Socket;

repeat_each(2);
plan tests => repeat_each() * (2 * blocks() + 4);

$ENV{TEST_NGINX_GREETING} = 'howdy';
no_shuffle();
run_tests();

__DATA__

=== TEST 1: plain echo
--- config
    location = /t {
        echo hello;
        echo world;
    }
--- request
    GET /t
--- response_body
hello
world



=== TEST 2: block without config reuses the running server
--- request
GET /t
--- response_body_like: ^hello\nworld$



=== TEST 3: env expansion, more_headers, response_headers (2 headers)
--- config
    location = /t {
        add_header X-Greeting $TEST_NGINX_GREETING;
        echo "foo: $http_foo";
    }
--- more_headers
Foo: bar
--- request
GET /t
--- response_headers
X-Greeting: howdy
! X-Missing
--- response_body
foo: bar



=== TEST 4: POST body with automatic Content-Length
--- config
    location = /t {
        echo_read_request_body;
        echo "[$request_body] $content_length";
    }
--- request
POST /t
hello, world
--- response_body
[hello, world] 12



=== TEST 5: user_files and the default root location
--- config
--- user_files
>>> a.txt
Hello, file
--- request
GET /a.txt
--- response_body
Hello, file



=== TEST 6: 404 via error_code and response_body_unlike
--- config
--- request
GET /nonexistent
--- error_code: 404
--- response_body_unlike: hello



=== TEST 7: response_body_filters (named + code ref), 2 tests
--- config
    location = /t {
        echo hello;
    }
--- request
GET /t
--- response_body_filters
uc
--- response_body
HELLO
--- response_headers_like
Content-Type: text/plain.*



=== TEST 8: eval'd response body and filters chain
--- config
    location = /t {
        echo -n "a\tb";
    }
--- request
GET /t
--- response_body_filters eval
[\&CORE::uc, sub { length $_[0] }]
--- response_body chomp
3



=== TEST 9: chunked response with timeout section and comment in request
--- config
    location = /t {
        echo_duplicate 3 "ab";
        echo_flush;
        echo "";
    }
--- request
# a comment
GET /t
--- timeout: 2s
--- raw_response_headers_like: Transfer-Encoding: chunked\r\n
--- response_body
ababab
