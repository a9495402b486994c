# --- must_die: nginx must refuse the configuration.
use Test::Nginx::Socket;

repeat_each(2);
# each block: the die check + 1 error_log + 1 no_error_log pattern
plan tests => repeat_each() * (3 * blocks());

no_shuffle();
run_tests();

__DATA__

=== TEST 1: unknown directive
--- config
    location = /t {
        no_such_directive on;
    }
--- request
GET /t
--- must_die
--- error_log
unknown directive "no_such_directive"
--- no_error_log
[crit]



=== TEST 2: bad arguments, with the expected exit code
--- config
    location = /t {
        return a b c;
    }
--- must_die: 1
--- error_log eval
qr/invalid number of arguments in "return" directive/
--- no_error_log
[alert]
