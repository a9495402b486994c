# Stream upstreams: one latency table for all worker processes.
# Ports: the stream listener on $TEST_NGINX_RAND_PORT_0, the slow backend on
# $TEST_NGINX_RAND_PORT_2, the fast one on $TEST_NGINX_RAND_PORT_1.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

# "workers: N": how many worker processes proxied sessions, from the pids
# of their "proxy ... connected to" lines in the error log.
sub session_workers {
    open my $log, '<', $Test::Nginx::Util::ErrLogFile or die "error.log: $!";
    my %pids;
    /^\S+ \S+ \[info\] (\d+)#\d+: \*\d+ proxy \S+ connected to / and $pids{$1} = 1
        while <$log>;
    return 'workers: ' . keys(%pids) . "\n";
}

master_on();
workers(2);
no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: a server learned slow through one worker is avoided by the other
Sessions reach the stream listener on new connections; with reuseport the
kernel spreads them over both workers (the info lines of the error log
name each session's worker: both took some).  The slow server is listed first, so each
worker would try it once if each kept its own statistics.
--- main_config
    stream {
        upstream app {
            least_time first_byte;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0 reuseport; proxy_pass app; }
    }
--- http_config
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 0.3; echo slow; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.002; echo fast; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(40, '/app') } }
 location = /app { proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_0; }"
--- request
GET /t
--- response_body_filters eval
sub { LatencyTest::tally($_[0]) . main::session_workers() }
--- response_body
fast: 39
slow: 1
workers: 2
--- log_level: info
--- timeout: 10
