# down and backup servers behave as with nginx's own balancers.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;
use JSON::PP;

# Each server's requests and state in the status JSON, the last line of
# the body.
sub peer_requests {
    my @lines = split /\n/, shift;
    my $status = decode_json(pop @lines);
    return join '', map { "$_->{server} $_->{state}: requests $_->{requests}\n" }
                    @{ $status->{upstreams}[0]{peers} };
}

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: a server marked down gets no request, however fast
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 down;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 0.005; echo 1992; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3; location / { echo_sleep 0.005; echo 1993; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(20, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1992 => [1, 19], 1993 => [1, 19])



=== TEST 2: a backup server is not used while a primary one is usable
The backup is faster, and still gets nothing.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 backup;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.01; echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo 1992; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(20, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body
1991: 20



=== TEST 3: the backup servers take over when no primary is usable
One primary is down, the other refuses connections and is failed after
its first attempt.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 down;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_9 max_fails=1 fail_timeout=30s;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 backup;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3 backup;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 0.002; echo 1992; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3; location / { echo_sleep 0.002; echo 1993; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(20, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1992 => [1, 19], 1993 => [1, 19])
--- grep_error_log eval: qr/connect\(\) failed/
--- grep_error_log_out
connect() failed



=== TEST 4: requests that go on to a backup server are counted as its own
The primary server is down: the backup takes every request, and the
status counts them in the backup's slot, not the primary's.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 down;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 backup;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo 1992; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(5, '/app') }
                 echo_location /upstreams 'format=json'; }
 location = /app { proxy_pass http://app; }
 location = /upstreams { upstream_latency_status; }"
--- request
GET /t
--- response_body_filters eval
\&main::peer_requests
--- response_body
127.0.0.1:$TEST_NGINX_RAND_PORT_1 down: requests 0
127.0.0.1:$TEST_NGINX_RAND_PORT_2 up: requests 5
