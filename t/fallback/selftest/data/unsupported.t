# A section of upstream's that the fallback does not implement.
use Test::Nginx::Socket;

plan tests => 2;

run_tests();

__DATA__

=== TEST 1: an embedded TCP server
--- config
    location = /t { return 200 "ok\n"; }
--- tcp_listen: 12345
--- tcp_query: hello
--- tcp_reply: world
--- request
GET /t
--- response_body
ok
