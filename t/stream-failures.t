# Stream upstreams: a failed connection, and a session the server closes
# or resets before sending a byte, count as slow for every metric; nginx's
# max_fails, fail_timeout and proxy_next_upstream keep their meaning.
# Ports: the stream listener on $TEST_NGINX_RAND_PORT_0, backend 199N on
# $TEST_NGINX_RAND_PORT_N (it answers "199N"); 9 is a port nobody listens on,
# and connecting to $TEST_NGINX_UNACCEPTING_PORT never completes.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;
use RawBackend;
use Unaccepting;
use IO::Socket::INET;

Unaccepting::start();    # $TEST_NGINX_UNACCEPTING_PORT: connects time out
LatencyTest::file_ports(1);
# reads what it is sent to its end, then closes without a byte
RawBackend::start(port => $ENV{TEST_NGINX_FILE_PORT_1},
                  request_end => qr/(?!)/, response => '');

# $n sessions through the stream listener, each sending a line, then
# half-closing, and reading to the end
sub half_closed_sessions {
    my ($n) = @_;
    for (1 .. $n) {
        my $c = IO::Socket::INET->new(
            PeerAddr => '127.0.0.1:' . LatencyTest::rand_port(0)) or die $!;
        syswrite $c, "hello\n";
        shutdown $c, 1;
        my $buf;
        1 while sysread $c, $buf, 4096;
        close $c;
    }
    return "sessions: $n\n";
}

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: a server refusing in 0.1 ms is not taken for the fastest
With max_fails=0 nginx never marks 1999 unavailable; the failure counts as
a session of fail_timeout, so least_time connect avoids it, where round
robin would try it for every other session (proxy_next_upstream retries
on 1991).
--- main_config
    stream {
        upstream app {
            least_time connect;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_9 max_fails=0;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
    }
--- http_config
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo 1991; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(20, '/app') } }
 location = /app { proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_0; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body
1991: 20
--- grep_error_log eval: qr/connect\(\) failed/
--- grep_error_log_out
connect() failed
--- error_log eval
qr/upstream latency sample: first byte 10000\d{3}us or more/



=== TEST 2: a server that closes before answering is not taken for the fastest
1994 accepts and closes at once: its connect time is the shortest, but
the session failed, for least_time connect too.
--- main_config
    stream {
        upstream app {
            least_time connect;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_4 max_fails=0;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_4; return ""; }
    }
--- http_config
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo 1991; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(20, '/app') } }
 location = /app { proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_0; }"
--- request
GET /t
--- grep_error_log eval: qr/upstream prematurely closed connection/
--- grep_error_log_out
upstream prematurely closed connection



=== TEST 3: a server that resets before answering is not taken for the fastest
--- main_config
    stream {
        upstream app {
            least_time first_byte;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_4 max_fails=0;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
    }
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_4;
        location / { reset_timedout_connection on; send_timeout 1ms;
                     echo_sleep 0.001; return 444; }
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.02; echo 1991; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(20, '/app') } }
 location = /app { proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_0; }"
--- request
GET /t
--- grep_error_log eval: qr/upstream prematurely closed connection/
--- grep_error_log_out
upstream prematurely closed connection



=== TEST 4: max_fails and fail_timeout: a failed server is left for fail_timeout
With max_fails=1 one refusal makes 1999 unavailable for 10 s, whatever
its score; weighted_random would otherwise draw it half the time.
--- main_config
    stream {
        upstream app {
            weighted_random;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_9 max_fails=1 fail_timeout=10s;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
    }
--- http_config
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo 1991; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(20, '/app') } }
 location = /app { proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_0; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body
1991: 20
--- grep_error_log eval: qr/connect\(\) failed/
--- grep_error_log_out
connect() failed



=== TEST 5: proxy_next_upstream off: the failure reaches the client
--- main_config
    stream {
        upstream app {
            least_time first_byte;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_9;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app;
                 proxy_next_upstream off; }
    }
--- config
 location = /t { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_0; }
--- request
GET /t
--- error_code: 502
--- error_log
connect() failed



=== TEST 6: a server that never accepts (proxy_connect_timeout) is not taken for the fastest
Connecting to the unaccepting port times out after 100 ms, and the
session passes to 1991, whose first byte takes 300 ms.  Counted as its
100 ms, the timeout would make the unaccepting server look the faster and
draw every session; as a failure it counts fail_timeout (10 s), so it is
tried once.  The half-life of 10 s keeps that far above 300 ms for the
whole test.
--- main_config
    stream {
        upstream app {
            least_time first_byte;
            upstream_latency_half_life 10s;
            server 127.0.0.1:$TEST_NGINX_UNACCEPTING_PORT max_fails=0;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app;
                 proxy_connect_timeout 100ms; }
    }
--- http_config
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.3; echo 1991; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(8, '/app') } }
 location = /app { proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_0; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body
1991: 8
--- grep_error_log eval: qr/upstream timed out \(\d+: Connection timed out\) while connecting to upstream/
--- grep_error_log_out
upstream timed out (110: Connection timed out) while connecting to upstream
--- error_log eval
qr/upstream latency sample: first byte 10000\d{3}us or more/
--- timeout: 20



=== TEST 7: a server silent until proxy_timeout has not failed
1991 reads the request and says nothing for 3 s; proxy_timeout ends the
session after 300 ms, as if well (nginx logs "connection timed out").
nginx cannot tell a hung server from one whose protocol never answers
(syslog, metrics over TCP), whose every idle client would then count as
its failure: the session only shows that the first byte takes at least
that long.
--- main_config
    stream {
        upstream app {
            least_time first_byte;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 down;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app;
                 proxy_timeout 300ms; }
    }
--- http_config
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 3; echo 1991; } }
--- config
    location = /t { proxy_pass http://127.0.0.1:$TEST_NGINX_RAND_PORT_0; }
--- request
GET /t
--- ignore_response
--- error_log eval
[qr/connection timed out/,
 qr/upstream latency sample: first byte [3-9]\d{5}us or more, response [3-9]\d{5}us or more/]
--- timeout: 5



=== TEST 8: a server that closes once the client has said all it had to has not failed
With proxy_half_close, the client sends a line and shuts its side down;
nginx passes that on, and the server, having read it all, closes without
a byte.  That was counted as the server's failure: any client could mark
any server failed with a connection and a FIN.
--- main_config
    stream {
        upstream app {
            least_time first_byte;
            server 127.0.0.1:$TEST_NGINX_FILE_PORT_1;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 down;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app;
                 proxy_half_close on; }
    }
--- config
    location = /t { return 200; }
--- request
GET /t
--- response_body_filters eval
sub { main::half_closed_sessions(3) }
--- response_body
sessions: 3
--- error_log eval
qr/upstream latency sample: first byte \d+us or more/
--- no_error_log eval
qr/upstream latency sample: first byte 10000000us/
