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



=== TEST 2: requests in flight through one worker steer the other worker's choice
Twenty rounds of two requests 50 ms apart, each held 200 ms by either
server; with reuseport, the kernel gives each request to either worker.
The second request of a round must see the first in flight and take the
other server, also when another worker chose the first.  Counting only
its own requests, a worker would take the same server in about half the
rounds where the workers differ.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.2; echo a; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 0.2; echo b; } }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_10 reuseport;
        location / { echo -n "$pid "; echo_location /app; }
        location /app { proxy_pass http://app; }
    }
--- config eval
my $round = "echo_location_async /front; echo_sleep 0.05;\n"
          . "echo_location_async /front; echo_sleep 0.45;\n";
"location = /t { ${\ ($round x 20) } }
 location = /front { proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_10/; }"
--- request
GET /t
--- response_body_filters eval
sub { my @lines = map { [split] } grep { /\S/ } split /\n/, shift;
      my ($same, $across) = (0, 0);
      while (my ($first, $second) = splice @lines, 0, 2) {
          $same++ if $first->[1] eq $second->[1];
          $across++ if $first->[0] ne $second->[0];
      }
      "same server: $same\nrounds across workers: "
      . ($across >= 3 ? "3 or more" : $across) . "\n" }
--- response_body
same server: 0
rounds across workers: 3 or more
--- timeout: 20



=== TEST 3: with zone, a server failed through one worker is out for every worker
weighted_random draws the refusing server for about half the requests
of each worker until its max_fails is reached.  With nginx's zone the
failure count is shared: one connection refused in all.  Each worker
keeping its own count would see two, one per worker.
--- http_config
    upstream app {
        zone app 64k;
        weighted_random;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_9 max_fails=1 fail_timeout=30s;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo ok; } }
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
sub { my %pids; $pids{(split)[0]}++ for grep { /\S/ } split /\n/, shift;
      "workers: " . keys(%pids) . "\n" }
--- response_body
workers: 2
--- grep_error_log eval: qr/connect\(\) failed/
--- grep_error_log_out
connect() failed
--- timeout: 10



=== TEST 4: with zone, least_time leaves a failed server out in every worker
The same under least_time, whose own penalty for the refusal fades in a
few milliseconds at a 1 ms half-life: then only the shared max_fails
keeps the refusing server out of the other worker's choice.
--- http_config
    upstream app {
        zone app 64k;
        least_time header;
        upstream_latency_half_life 1ms;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_9 max_fails=1 fail_timeout=30s;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo ok; } }
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
sub { my %pids; $pids{(split)[0]}++ for grep { /\S/ } split /\n/, shift;
      "workers: " . keys(%pids) . "\n" }
--- response_body
workers: 2
--- grep_error_log eval: qr/connect\(\) failed/
--- grep_error_log_out
connect() failed
--- timeout: 10
