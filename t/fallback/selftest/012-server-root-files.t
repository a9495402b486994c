# What nginx writes goes to the server root, as with upstream: its early
# error log (nginx -e) is the block's error.log, so that a [warn] logged
# while nginx reads the configuration is there (and a --- must_die error
# once, not again from stderr); its temporary files go to
# t/servroot*/*_temp, not to nginx's built-in paths.
use Test::Nginx::Socket;

plan tests => 7;

no_shuffle();
run_tests();

__DATA__

=== TEST 1: a warning of the configuration's reading is in error.log
--- config
    location = /t {
        types { text/html dupext; text/plain dupext; }
        return 200 "ok\n";
    }
--- request
GET /t
--- response_body
ok
--- error_log
duplicate extension "dupext"



=== TEST 2: request bodies are buffered in the server root
--- config
    location = /t {
        client_body_in_file_only on;
        echo_read_request_body;
        echo $request_body_file;
    }
--- request
POST /t
hello
--- response_body_like eval
qr{^\Q$Test::Nginx::Util::ServRoot\E/client_body_temp/\d+$}



=== TEST 3: a --- must_die error is in error.log once
--- config
    location = /t { no_such_directive; }
--- must_die
--- grep_error_log chop
unknown directive "no_such_directive"
--- grep_error_log_out
unknown directive "no_such_directive"
