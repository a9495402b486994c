# One latency table for all worker processes.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

master_on();
workers(2);
no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: a peer learned slow through one worker is avoided by the other
Requests reach the front server on new connections; with reuseport the
kernel spreads them over both workers.  The slow backend is listed first,
so each worker would probe it once if each kept its own statistics.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 0.3; echo slow; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.002; echo fast; } }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_10 reuseport;
        location / { echo -n "$pid "; echo_location /app; }
        location /app { proxy_pass http://app; }
    }
--- config eval
"location = /t { ${\ LatencyTest::requests(40, '/front') } }
 location = /front { proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_10/; }"
--- request
GET /t
--- response_body_filters eval
sub { my (%pids, $slow);
      for (split /\n/, shift) { my ($pid, $peer) = split; $pids{$pid}++;
                                $slow++ if $peer eq 'slow' }
      "workers: " . keys(%pids) . "\nslow: " . ($slow // 0) . "\n" }
--- response_body
workers: 2
slow: 1
--- timeout: 10
