# Preprocessors, skip sections, env_to_nginx, random ports, access_log,
# error_code_like, server_name, init, --- LAST.
use Test::Nginx::Socket;

plan tests => repeat_each() * (2 * blocks() + 3);

$ENV{TEST_NGINX_FOO} = 'from-env';
env_to_nginx('TEST_NGINX_FOO');

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value(request => "GET /t") unless defined $block->request;
});

our $Inited;
no_shuffle();
run_tests();

__DATA__

=== TEST 1: default request from a preprocessor; main_config + env_to_nginx
--- main_config
    worker_rlimit_nofile 1024;
--- config
    location = /t {
        echo "env ok";
    }
--- response_body
env ok
--- access_log
"GET /t HTTP/1.1" 200



=== TEST 2: skip_nginx skips 2 subtests on any 1.x nginx
--- config
    location = /t { echo never; }
--- response_body
never
--- skip_nginx: 2: > 0.1.0



=== TEST 3: skip_eval that does not skip
--- config
    location = /t { echo run; }
--- skip_eval: 2: 0
--- response_body
run



=== TEST 4: random port listener and proxying to it; error_code_like
--- config
    location = /t { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/u; }
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location = /u { echo "backend $server_port"; }
    }
--- error_code_like: ^2\d\d$
--- response_body_like: ^backend \d+$



=== TEST 4b: the block's random ports in the expected response_body
--- config
    location = /t { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_1/u; }
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        location = /u { echo "backend $server_port"; }
    }
--- response_body
backend $TEST_NGINX_RAND_PORT_1



=== TEST 5: server_name section and init
--- config
    location = /t { echo "$server_name"; }
--- server_name: example.test
--- init
$Test::Nginx::Socket::Inited = 1;
--- response_body
example.test
--- no_error_log eval
[qr/\[alert\]/, "[emerg]"]
--- LAST



=== TEST 6: after LAST, never parsed into a block
--- config
--- response_body
nothing
