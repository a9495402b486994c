# add_test_cleanup_handler: called with each block once it has run, as
# upstream exports it.
use Test::Nginx::Socket;

plan tests => 2 * blocks() + 1;

my @cleaned;
add_test_cleanup_handler(sub { push @cleaned, $_[0]->name });

no_shuffle();
run_tests();

is_deeply([map { s/^.* (TEST \d+):.*/$1/r } @cleaned], ['TEST 1', 'TEST 2'],
          'each block cleaned up once, in order');

__DATA__

=== TEST 1: one
--- config
    location = /t { return 200 "1\n"; }
--- request
GET /t
--- response_body
1



=== TEST 2: two
--- config
    location = /t { return 200 "2\n"; }
--- request
GET /t
--- response_body
2
