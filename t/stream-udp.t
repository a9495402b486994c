# Stream upstreams over UDP: a session is a client's datagrams and the
# server's answers, ended by proxy_responses; first_byte is the time to the
# first answer datagram, last_byte to the session's end (the last of the
# proxy_responses answers).  Backends are UdpBackend processes; the
# datagrams are sent from the response body filter, while nginx runs.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;
use UdpBackend;

UdpBackend::start(port => 1991, delay => 0.002);
UdpBackend::start(port => 1992, delay => 0.05);
UdpBackend::start(port => 1993, delay => 0.1, reply => 2);
UdpBackend::start(port => 1994, delay => 0.002, reply => 2, gap => 0.2);

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: least_time first_byte: the server that answers first takes nearly every session
--- main_config
    stream {
        upstream app {
            least_time first_byte;
            server 127.0.0.1:1992;
            server 127.0.0.1:1991;
        }
        server { listen 127.0.0.1:1990 udp; proxy_pass app;
                 proxy_responses 1; proxy_timeout 2s; }
    }
--- config
    location = /t { return 200; }
--- request
GET /t
--- response_body_filters eval
sub { LatencyTest::tally(UdpBackend::sessions(1990, 40)) }
--- response_body_like eval
LatencyTest::counts(1991 => [38, 40], 1992 => [0, 2])
--- timeout: 20



=== TEST 2: least_time last_byte: a session ends with its last expected answer
With proxy_responses 2, 1994's sessions end 200 ms after its first
answer, 1993's after 100 ms.  The slow half-life keeps the loser's average
from decaying into a probe during the run, however long a loaded machine
makes it.
--- main_config
    stream {
        upstream app {
            least_time last_byte;
            upstream_latency_half_life 10s;
            server 127.0.0.1:1994;
            server 127.0.0.1:1993;
        }
        server { listen 127.0.0.1:1990 udp; proxy_pass app;
                 proxy_responses 2; proxy_timeout 2s; }
    }
--- config
    location = /t { return 200; }
--- request
GET /t
--- response_body_filters eval
sub { LatencyTest::tally(UdpBackend::sessions(1990, 30, 2)) }
--- response_body_like eval
LatencyTest::counts(1993 => [28, 30], 1994 => [0, 2])
--- timeout: 20



=== TEST 3: least_time first_byte with the same servers: the early first answer wins
1994 answers first, after 2 ms, 1993 after 100 ms.  With the default
half-life, 1993's average decays to 1994's only after about 6 s, near the
run's end; a stall of 1994 beyond 100 ms on a loaded machine hands 1993 a
few sessions until that stall's sample decays.
--- main_config
    stream {
        upstream app {
            least_time first_byte;
            server 127.0.0.1:1993;
            server 127.0.0.1:1994;
        }
        server { listen 127.0.0.1:1990 udp; proxy_pass app;
                 proxy_responses 2; proxy_timeout 2s; }
    }
--- config
    location = /t { return 200; }
--- request
GET /t
--- response_body_filters eval
sub { LatencyTest::tally(UdpBackend::sessions(1990, 30, 2)) }
--- response_body_like eval
LatencyTest::counts(1993 => [0, 5], 1994 => [25, 30])
--- timeout: 20



=== TEST 4: a closed port (ICMP port unreachable) is not taken for the fastest
--- main_config
    stream {
        upstream app {
            least_time first_byte;
            server 127.0.0.1:1999 max_fails=0;
            server 127.0.0.1:1991;
        }
        server { listen 127.0.0.1:1990 udp; proxy_pass app;
                 proxy_responses 1; proxy_timeout 2s; }
    }
--- config
    location = /t { return 200; }
--- request
GET /t
--- response_body_filters eval
sub { LatencyTest::tally(UdpBackend::sessions(1990, 20)) }
--- response_body_like eval
LatencyTest::counts(1991 => [19, 20], none => [0, 1])
--- grep_error_log eval: qr/Connection refused/
--- grep_error_log_out eval
qr/\A(?:Connection refused\n){1,2}\z/
--- timeout: 20
