# Stream upstreams over UDP: a session is a client's datagrams and the
# server's answers, ended by proxy_responses; first_byte is the time to the
# first answer datagram, last_byte to the session's end (the last of the
# proxy_responses answers).  Backends are UdpBackend processes; the
# datagrams are sent from the response body filter, while nginx runs.
# Each hiccup of the fast backend over the slow one's time (a Perl process
# on a loaded machine) sends the slow one a session: at most 6 here, where
# round robin sends it half.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;
use UdpBackend;

# UDP backend 199N on $TEST_NGINX_FILE_PORT_N, answering "199N", for the
# whole file; the stream listener on the block's $TEST_NGINX_RAND_PORT_0,
# a closed port on $TEST_NGINX_RAND_PORT_9
LatencyTest::file_ports(4);
UdpBackend::start(port => $ENV{TEST_NGINX_FILE_PORT_1}, label => 1991,
                  delay => 0.002);
UdpBackend::start(port => $ENV{TEST_NGINX_FILE_PORT_2}, label => 1992,
                  delay => 0.3);
UdpBackend::start(port => $ENV{TEST_NGINX_FILE_PORT_3}, label => 1993,
                  delay => 0.025, reply => 2);
UdpBackend::start(port => $ENV{TEST_NGINX_FILE_PORT_4}, label => 1994,
                  delay => 0.002, reply => 2, gap => 0.1);

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: least_time first_byte: the server that answers first takes nearly every session
--- main_config
    stream {
        upstream app {
            least_time first_byte;
            server 127.0.0.1:$TEST_NGINX_FILE_PORT_2;
            server 127.0.0.1:$TEST_NGINX_FILE_PORT_1;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0 udp; proxy_pass app;
                 proxy_responses 1; proxy_timeout 2s; }
    }
--- config
    location = /t { return 200; }
--- request
GET /t
--- response_body_filters eval
sub { LatencyTest::tally(UdpBackend::sessions(LatencyTest::rand_port(0), 40)) }
--- response_body_like eval
LatencyTest::counts(1991 => [34, 40], 1992 => [0, 6])
--- timeout: 20



=== TEST 2: least_time last_byte: a session ends with its last expected answer
With proxy_responses 2, 1994's sessions end 100 ms after its first
answer (at 2 ms), 1993's with both answers at 25 ms.
--- main_config
    stream {
        upstream app {
            least_time last_byte;
            server 127.0.0.1:$TEST_NGINX_FILE_PORT_4;
            server 127.0.0.1:$TEST_NGINX_FILE_PORT_3;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0 udp; proxy_pass app;
                 proxy_responses 2; proxy_timeout 2s; }
    }
--- config
    location = /t { return 200; }
--- request
GET /t
--- response_body_filters eval
sub { LatencyTest::tally(UdpBackend::sessions(LatencyTest::rand_port(0), 30, 2)) }
--- response_body_like eval
LatencyTest::counts(1993 => [24, 30], 1994 => [0, 6])
--- timeout: 20



=== TEST 3: least_time first_byte with the same servers: the early first answer wins
1994 answers first at 2 ms, 1993 at 25 ms.
--- main_config
    stream {
        upstream app {
            least_time first_byte;
            server 127.0.0.1:$TEST_NGINX_FILE_PORT_3;
            server 127.0.0.1:$TEST_NGINX_FILE_PORT_4;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0 udp; proxy_pass app;
                 proxy_responses 2; proxy_timeout 2s; }
    }
--- config
    location = /t { return 200; }
--- request
GET /t
--- response_body_filters eval
sub { LatencyTest::tally(UdpBackend::sessions(LatencyTest::rand_port(0), 30, 2)) }
--- response_body_like eval
LatencyTest::counts(1993 => [0, 6], 1994 => [24, 30])
--- timeout: 20



=== TEST 4: a closed port (ICMP port unreachable) is not taken for the fastest
--- main_config
    stream {
        upstream app {
            least_time first_byte;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_9 max_fails=0;
            server 127.0.0.1:$TEST_NGINX_FILE_PORT_1;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0 udp; proxy_pass app;
                 proxy_responses 1; proxy_timeout 2s; }
    }
--- config
    location = /t { return 200; }
--- request
GET /t
--- response_body_filters eval
sub { LatencyTest::tally(UdpBackend::sessions(LatencyTest::rand_port(0), 20)) }
--- response_body_like eval
LatencyTest::counts(1991 => [19, 20], none => [0, 1])
--- grep_error_log eval: qr/Connection refused/
--- grep_error_log_out eval
qr/\A(?:Connection refused\n){1,2}\z/
--- timeout: 20
