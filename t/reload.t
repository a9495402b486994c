# Statistics survive "nginx -s reload" for the peers that remain.
BEGIN { $ENV{TEST_NGINX_USE_HUP} = 1; }

use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;
use JSON::PP;

LatencyTest::file_ports(3);    # backend N on $TEST_NGINX_FILE_PORT_N answers 199N

# The label (199N) of the backend at "127.0.0.1:port".
sub label {
    my ($address) = @_;
    my ($n) = grep { $address eq '127.0.0.1:' . $ENV{"TEST_NGINX_FILE_PORT_$_"} }
              1 .. 3;
    return defined $n ? 1990 + $n : $address;
}

no_shuffle();
no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: least_time learns that 1992 is slow
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_2;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_1;
    }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_2; location / { echo_sleep 0.3; echo 1992; } }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_1; location / { echo_sleep 0.002; echo 1991; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(10, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body
1991: 9
1992: 1



=== TEST 2: after a reload that adds 1993, 1992 is still known to be slow
1992 gets none of the 10 requests (forgotten, it would be tried first, as
1993 is without slow start); 1991 and 1993 answer in 2 ms, how they share
is not the point.
--- http_config
    upstream app {
        least_time header;
        upstream_latency_slow_start off;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_2;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_1;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_3;
    }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_2; location / { echo_sleep 0.3; echo 1992; } }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_1; location / { echo_sleep 0.002; echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_3; location / { echo_sleep 0.002; echo 1993; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(10, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [0, 9], 1993 => [1, 10])
--- error_log
3 peers in
2 kept from the previous configuration



=== TEST 3: a reload that removes 1992 drops it from the table
The new table holds 1991 and 1993, both kept; the status no longer lists
1992.  (TEST 4 shows that its average is gone.)
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_1;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_3;
    }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_1; location / { echo_sleep 0.002; echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_3; location / { echo_sleep 0.002; echo 1993; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(4, '/app') }
                 echo_location /upstreams; }
 location = /app { proxy_pass http://app; }
 location = /upstreams { upstream_latency_status; }"
--- request
GET /t
--- response_body_filters eval
sub { my @lines = split /\n/, shift;
      my $status = JSON::PP::decode_json(pop @lines);
      "answers: " . @lines . "\nin the status: "
      . CORE::join(' ', map { main::label($_->{server}) }
                        @{ $status->{upstreams}[0]{peers} }) . "\n" }
--- response_body
answers: 4
in the status: 1991 1993
--- error_log
2 peers in
2 kept from the previous configuration



=== TEST 4: 1992 added back is a new peer and is probed again
Had it kept its 300 ms average, it would get none of the 10 requests
(without slow start, which would ramp it up).
--- http_config
    upstream app {
        least_time header;
        upstream_latency_slow_start off;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_2;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_1;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_3;
    }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_2; location / { echo_sleep 0.3; echo 1992; } }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_1; location / { echo_sleep 0.002; echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_3; location / { echo_sleep 0.002; echo 1993; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(10, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [0, 9], 1992 => [1, 1], 1993 => [0, 9])



=== TEST 5: the status counters of a remaining peer survive the reloads
1991 took 9 requests in TEST 1 alone; this block sends it none.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_1;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_3;
    }
--- config
    location = /upstreams { upstream_latency_status; }
--- request
GET /upstreams
--- response_body_filters eval
sub { my ($peer) = grep { main::label($_->{server}) == 1991 }
                   @{ JSON::PP::decode_json(shift)->{upstreams}[0]{peers} };
      "1991 requests at least 9: " . ($peer->{requests} >= 9 ? "yes\n" : "no ($peer->{requests})\n") }
--- response_body
1991 requests at least 9: yes



=== TEST 6: a server at one address among the primary and the backup servers
The primary one takes the 10 requests; the backup one none.
--- http_config
    upstream dup {
        weighted_random;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_1;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_1 backup;
    }
    server { listen 127.0.0.1:$TEST_NGINX_FILE_PORT_1; location / { echo 1991; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(10, '/dup') } }
 location = /dup { proxy_pass http://dup; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body
1991: 10



=== TEST 7: a reload that removes the primary one keeps the backup one's own counters
Matched by address alone, the backup server took the primary's 10
requests.
--- http_config
    upstream dup {
        weighted_random;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_2;
        server 127.0.0.1:$TEST_NGINX_FILE_PORT_1 backup;
    }
--- config
    location = /upstreams { upstream_latency_status; }
--- request
GET /upstreams?upstream=dup
--- response_body_filters eval
sub { CORE::join '', map { main::label($_->{server}) . ($_->{backup} ? ' backup' : '') . ": requests $_->{requests}\n" }
          @{ JSON::PP::decode_json(shift)->{upstreams}[0]{peers} } }
--- response_body
1992: requests 0
1991 backup: requests 0
