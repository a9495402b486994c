# Scores that tie are settled by the requests in flight first, as
# least_conn settles them: below the tie floor (1 ms) a score cannot tell
# a server holding a queue from an idle one, when its estimate has decayed
# during a quiet spell, or when its queue is one no answer has shown yet.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

# Two backends answering /warm at once; on /hang, 1991 holds each request
# for 3 s while 1992 answers at once.  The upstream balances with $method,
# its estimates halving every 50 ms.
sub upstream_with {
    my ($method) = @_;
    return LatencyTest::two_backends($method, '50ms',
        'location = /warm { echo warm; }
         location = /hang { echo_sleep 3; echo 1991; }',
        'location = /warm { echo warm; }
         location = /hang { echo 1992; }');
}

# Every block: four requests to /warm one after another, a second's
# pause, then ten to /hang, one every 50 ms; 1991 may take at most 2 of
# the ten (a second when 1992 has not answered within 50 ms on a loaded
# machine).
add_block_preprocessor(sub {
    my ($block) = @_;
    $block->set_value(config => "
        location = /t {
            ${\ LatencyTest::requests(4, '/app/warm') }
            echo_sleep 1;
            ${\ LatencyTest::parallel_requests(10, '/app/hang', 0.05) }
        }
        location /app/ { proxy_pass http://app/; }");
    $block->set_value(request => 'GET /t');
    $block->set_value(response_body_filters => \&LatencyTest::tally);
    $block->set_value(response_body_like => LatencyTest::counts(
        warm => [4, 4], 1991 => [0, 2], 1992 => [8, 10]));
    $block->set_value(timeout => 15);
});

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: least_time sends tied requests to the server with fewer in flight
A second after /warm, at a half-life of 50 ms, both estimates have
decayed to nothing.  Every score of /hang ties (1991's estimate stays
near 0 while its requests hang), so round robin among the ties gave 1991
five of the ten.  The requests in flight give it the first one or none.
--- http_config eval
main::upstream_with('least_time header')



=== TEST 2: weighted_random two sends tied requests to the server with fewer in flight
The same with both servers drawn at every choice: the coin that settled
their ties gave 1991 about five of the ten.
--- http_config eval
main::upstream_with('weighted_random two least_time=header')
