# HUP reload mode: blocks run against the same master process, and state
# kept in shared memory survives the reload.
BEGIN { $ENV{TEST_NGINX_USE_HUP} = 1 }

use Test::Nginx::Socket;

plan tests => repeat_each() * (2 * blocks()) + 1;

my %masters;
add_response_body_check(sub {
    my ($block) = @_;
    open my $in, '<', $Test::Nginx::Util::PidFile or return;
    chomp($masters{ $block->name } = <$in>);
});

no_shuffle();
run_tests();

is(scalar(keys %{{ reverse %masters }}), 1, "one master process for all blocks");

__DATA__

=== TEST 1: first request passes the limit
--- http_config
    limit_req_zone $binary_remote_addr zone=one:1m rate=1r/m;
--- config
    location = /t {
        limit_req zone=one;
        echo first;
    }
--- request
GET /t
--- response_body
first



=== TEST 2: after the reload the zone still remembers the first request
--- http_config
    limit_req_zone $binary_remote_addr zone=one:1m rate=1r/m;
--- config
    location = /t {
        limit_req zone=one;
        echo second;
    }
--- request
GET /t
--- error_code: 503
--- response_body_like: 503 Service



=== TEST 3: another reload, new config is live
--- config
    location = /v {
        echo "v3";
    }
--- request
GET /v
--- response_body
v3
