# Among scores that tie, the faster server comes first, before the one
# with fewer requests in flight: a fast server with a request in flight
# scores as a server twice as slow and idle, and the slow one's every
# answer is the fast one's worst case.  Behind several nginx, each seeing
# only its own requests in flight, such ties sent 3-5% of the requests to
# a server three times slower (README, "How the choice is made").
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

# 1991 answers /warm in 200 ms and holds /hold for 2 s; 1992 answers
# both in 410 ms.  The estimates are held for 10 s.
sub upstream_with {
    my ($method) = @_;
    return LatencyTest::two_backends($method, '10s',
        'location = /warm { echo_sleep 0.2; echo 1991; }
         location = /hold { echo_sleep 2; echo 1991; }',
        'location = /warm { echo_sleep 0.41; echo 1992; }
         location = /hold { echo_sleep 0.41; echo 1992; }');
}

# Every block: three requests to /warm one after another (the first two
# measure both servers, the third goes to 1991), then /hold, which goes to
# 1991, and 100 ms later one more /warm.  1991 with /hold in flight scores
# 2 x 200 ms, 1992 410 ms: a tie, with 1991 at half the latency.  It
# takes the last /warm: 4 of the 5 requests (3 when the tie went to the
# idle server).  Scores apart by more than the tie factor (1/8) would not
# tie: the 10 ms between 400 and 410 leave 1991 up to 40 ms of jitter.
add_block_preprocessor(sub {
    my ($block) = @_;
    $block->set_value(config => "
        location = /t {
            ${\ LatencyTest::requests(3, '/app/warm') }
            echo_location_async /app/hold;
            echo_sleep 0.1;
            echo_location_async /app/warm;
        }
        location /app/ { proxy_pass http://app/; }");
    $block->set_value(request => 'GET /t');
    $block->set_value(response_body_filters => \&LatencyTest::tally);
    $block->set_value(response_body_like => LatencyTest::counts(
        1991 => [4, 4], 1992 => [1, 1]));
    $block->set_value(timeout => 10);
});

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: least_time sends a tie to the faster server with a request in flight
--- http_config eval
main::upstream_with('least_time header')



=== TEST 2: weighted_random two sends a tie to the faster server with a request in flight
Two servers: both are drawn at every choice.
--- http_config eval
main::upstream_with('weighted_random two least_time=header')
