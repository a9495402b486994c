# TEST_NGINX_RANDOMIZE: a random free server port and a server root of the
# file's own, t/servroot_PORT (what prove -jN needs).
BEGIN { $ENV{TEST_NGINX_RANDOMIZE} = 1 }
use Test::Nginx::Socket;

plan tests => 2 * blocks() + 2;

isnt(server_port(), 1984, 'the server port is not the default one');
like(server_root(), qr{/t/servroot_${\ server_port()}$},
     'the server root is named after it');
run_tests();

__DATA__

=== TEST 1: nginx listens on that port
--- config
    location = /t { echo $server_port; }
--- request
GET /t
--- response_body
$ServerPort
