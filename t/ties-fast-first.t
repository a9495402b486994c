# Among scores that tie, when most servers are busy, the faster server
# comes first, before the one with fewer requests in flight: a fast server
# with a request in flight scores as a server twice as slow and idle, and
# the slow one's every answer is the fast one's worst case.  Behind
# several nginx, each seeing only its own requests in flight, such ties
# sent 3-5% of the requests to a server three times slower (README, "How
# the choice is made").
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

# /warm and /hold: the fast servers answer /warm in 200 ms and hold /hold
# for 2 s; the slow one answers both in 420 ms.
sub fast { "location = /warm { echo_sleep 0.2; echo $_[0]; }
            location = /hold { echo_sleep 2; echo $_[0]; }" }
sub slow { "location = /warm { echo_sleep 0.42; echo $_[0]; }
            location = /hold { echo_sleep 0.42; echo $_[0]; }" }

# A fast server holding a request scores 2 x 200 ms, the idle slow one
# 420 ms: a tie (within 1/8, which leaves the fast one up to 36 ms of
# jitter), with the fast one at half the latency.
add_block_preprocessor(sub {
    my ($block) = @_;
    $block->set_value(request => 'GET /t');
    $block->set_value(response_body_filters => \&LatencyTest::tally);
    $block->set_value(timeout => 10);
});

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: least_time sends a tie to a faster server with a request in flight
1991 and 1993 are fast, 1992 slow.  Three requests to /warm measure the
three servers, a fourth goes to a fast one; then /hold goes to a fast
one, 100 ms later a second /hold to the other, and 100 ms later one more
/warm ties the two busy fast servers with the idle slow one.  Two of the
three are busy, so speed comes first: 1992 answers only the /warm that
measured it (two when the tie went to the idle server).
--- http_config eval
"upstream app {
     least_time header;
     upstream_latency_half_life 10s;
     server 127.0.0.1:\$TEST_NGINX_RAND_PORT_1;
     server 127.0.0.1:\$TEST_NGINX_RAND_PORT_2;
     server 127.0.0.1:\$TEST_NGINX_RAND_PORT_3;
 }
 server { listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_1; ${\ main::fast(1991) } }
 server { listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_2; ${\ main::slow(1992) } }
 server { listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_3; ${\ main::fast(1993) } }"
--- config eval
"location = /t {
     ${\ LatencyTest::requests(4, '/app/warm') }
     ${\ LatencyTest::parallel_requests(2, '/app/hold', 0.1) }
     echo_sleep 0.1;
     echo_location_async /app/warm;
 }
 location /app/ { proxy_pass http://app/; }"
--- response_body_like eval
LatencyTest::counts(1991 => [2, 4], 1992 => [1, 1], 1993 => [2, 4])



=== TEST 2: weighted_random two sends a tie to the faster server with a request in flight
Two servers, both drawn at every choice: 1991 fast, 1992 slow.  Two
requests to /warm measure both, a third goes to 1991; then /hold goes to
1991, and 100 ms later one more /warm ties it with the idle 1992.  Two
drawn servers do not tell how busy the pool is, and speed comes first:
1992 answers only the /warm that measured it.
--- http_config eval
LatencyTest::two_backends('weighted_random two least_time=header', '10s',
                          main::fast(1991), main::slow(1992))
--- config eval
"location = /t {
     ${\ LatencyTest::requests(3, '/app/warm') }
     echo_location_async /app/hold;
     echo_sleep 0.1;
     echo_location_async /app/warm;
 }
 location /app/ { proxy_pass http://app/; }"
--- response_body_like eval
LatencyTest::counts(1991 => [4, 4], 1992 => [1, 1])
