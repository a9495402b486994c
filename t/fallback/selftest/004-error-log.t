# error_log / no_error_log / grep_error_log checks.
use Test::Nginx::Socket;

repeat_each(2);
plan tests => repeat_each() * (blocks() * 2 + 3);

log_level('info');
no_shuffle();
run_tests();

__DATA__

=== TEST 0: --- SKIP drops a block (it would not even start nginx)
--- config
    location = /t {
        log_by_lua_block { }
    }
--- request
GET /t
--- response_body
ok
--- must_die
--- SKIP



=== TEST 1: error_log with several patterns (2 tests), no_error_log (1)
--- config
--- request
GET /missing.txt
--- error_code: 404
--- error_log eval
["open()", qr/No such file or directory/]
--- no_error_log
[crit]



=== TEST 2: grep_error_log with a regex and per-repeat expectations
--- config
    location = /t {
        echo_exec /missing;
    }
--- request
GET /t
--- error_code: 404
--- grep_error_log eval: qr/open\(\) "[^"]+missing" failed/
--- grep_error_log_out eval
[qr/^open\(\) "\S+missing" failed\n$/, qr/^open\(\) "\S+missing" failed\n$/]



=== TEST 3: grep_error_log with a literal string
--- config
    location = /t {
        return 200 "x";
    }
--- log_level: debug
--- request
GET /t
--- grep_error_log chop
http finalize request: 0, "/t?"
--- grep_error_log_out
http finalize request: 0, "/t?"
--- no_error_log
[error]
