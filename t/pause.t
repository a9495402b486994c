# Estimates fade only while their upstream serves: an upstream that idles
# keeps what it knew, so that a burst after a pause finds the slow servers
# slow (README, "How the choice is made").
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;
use JSON::PP;

# http_config: upstream "app", least_time with its estimates held 50 ms,
# then halved every 50 ms, over 1991, answering at once, and 1992, in 50 ms.
sub fast_and_slow {
    "upstream app {
         least_time header;
         upstream_latency_half_life 50ms;
         server 127.0.0.1:\$TEST_NGINX_RAND_PORT_1;
         server 127.0.0.1:\$TEST_NGINX_RAND_PORT_2;
     }
     server { listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_1; location / { echo 1991; } }
     server { listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 0.05; echo 1992; } }"
}

add_block_preprocessor(sub {
    my ($block) = @_;
    $block->set_value(request => 'GET /t');
    $block->set_value(timeout => 10);
});

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: after an idle second, a burst goes to the fast server only
1991 answers at once, 1992 in 50 ms; the estimates are held 50 ms, then
halved every 50 ms.  Four requests measure both (1992 answers one), then
nothing for a second, twenty half-lives, then four requests at once.
Had the estimates faded through the pause, both would be on the noise
floor, tied, and the second of the four would go to the idle 1992.
--- http_config eval
main::fast_and_slow()
--- config eval
"location = /t {
     ${\ LatencyTest::requests(4, '/app') }
     echo_sleep 1;
     ${\ LatencyTest::parallel_requests(4, '/app', 0.001) }
 }
 location = /app { proxy_pass http://app; }"
--- response_body_filters eval
\&LatencyTest::tally
--- response_body
1991: 7
1992: 1



=== TEST 2: a request every half second sends few to the slow server
The same servers and estimates; four requests measure both, then eight
come half a second apart, ten half-lives.  Each gap counts as one half-life, the
hold, so the 50 ms average holds, then fades over the next requests:
1992 is probed again after about six gaps (log2(50 / 1.125) + 1
half-lives, to the tie with 1991's 1 ms floor), at most twice in eight.
Had the averages faded through each gap, each request would find both
on the floor, tied, and they would take turns: four each.
--- http_config eval
main::fast_and_slow()
--- config eval
"location = /t {
     ${\ LatencyTest::requests(4, '/app') }
     ${\ join 'echo_sleep 0.5;', ('echo_location /app;') x 8 }
 }
 location = /app { proxy_pass http://app; }"
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [9, 11], 1992 => [1, 3])



=== TEST 3: after an idle second, the status shows the average as it was
A 50 ms backend, its estimate held 50 ms, then halved every 50 ms, is
idle for a second, twenty half-lives, before the status is read: the
average is still at least 40 ms (49 ms a response, less a decay of a few
ms at most), not next to nothing.
--- http_config
    upstream app {
        weighted_random;
        upstream_latency_half_life 50ms;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.05; echo 1991; } }
--- config eval
"location = /t {
     ${\ LatencyTest::requests(3, '/app') }
     echo_sleep 1;
     echo_location /upstreams 'format=json';
 }
 location = /app { proxy_pass http://app; }
 location = /upstreams { upstream_latency_status; }"
--- response_body_filters eval
sub { my @lines = split /\n/, shift;
      my $p = JSON::PP::decode_json(pop @lines)->{upstreams}[0]{peers}[0];
      my $time = $p->{header_time} // 'none';
      "requests $p->{requests}, header_time at least 40 ms: "
      . ($time ne 'none' && $time >= 40 ? "yes\n" : "no ($time)\n") }
--- response_body
requests 3, header_time at least 40 ms: yes
