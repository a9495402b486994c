# The status counters are totals over all worker processes.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;
use JSON::PP;

master_on();
workers(2);
no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: requests served by two workers add up in one status answer
As in shared.t, new connections to the front spread over both workers.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo 1991; } }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_10 reuseport;
        location / { echo -n "$pid "; echo_location /app; }
        location /app { proxy_pass http://app; }
    }
--- config eval
"location = /t { ${\ LatencyTest::requests(40, '/front') }
                 echo_location /upstreams 'format=json'; }
 location = /front { proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_10/; }
 location = /upstreams { upstream_latency_status; }"
--- request
GET /t
--- response_body_filters eval
sub { my @lines = split /\n/, shift;
      my $status = JSON::PP::decode_json(pop @lines);
      my %pids = map { (split)[0] => 1 } @lines;
      "workers: " . keys(%pids) . "\nrequests: "
      . $status->{upstreams}[0]{peers}[0]{requests} . "\n" }
--- response_body
workers: 2
requests: 40
--- timeout: 10
