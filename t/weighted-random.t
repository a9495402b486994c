# weighted_random: peers drawn by weight; with two, the better of two.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

# Body: the label of each draw's backend, one a line, in order.  Whether
# $label took a number of draws in [$low, $high], and followed itself a
# number of times in [$pairs_low, $pairs_high]: independent draws of
# probability p repeat about n p^2 times; nginx's weighted round robin
# spreads a server's turns and never repeats one of weight 1 of 4.
sub draws {
    my ($body, $label, $low, $high, $pairs_low, $pairs_high) = @_;
    my @draws = grep { /\S/ } split /\n/, $body;
    my $count = grep { $_ eq $label } @draws;
    my $pairs = grep { $draws[$_] eq $label && $draws[$_ - 1] eq $label }
                1 .. $#draws;
    my $in = sub { $_[0] >= $_[1] && $_[0] <= $_[2] ? 'yes' : "no ($_[0])" };
    return "$label: " . $in->($count, $low, $high) . "\n"
         . "$label after $label: " . $in->($pairs, $pairs_low, $pairs_high) . "\n";
}

no_long_string();
run_tests();

__DATA__

=== TEST 1: requests are drawn at random by weight, not in turns
Weights 1 and 3 over 2000 requests: 500 to 1991 expected, binomial
sigma 19; tolerance 100 (5 sigma).  1991 follows itself about 2000 / 16
= 125 times (sigma 13; tolerance 55); weighted round robin: never.
--- http_config
    upstream app {
        weighted_random;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 weight=3;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo 1992; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(2000, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
sub { main::draws(shift, 1991, 400, 600, 70, 180) }
--- response_body
1991: yes
1991 after 1991: yes
--- timeout: 30



=== TEST 2: plain weighted_random does not look at latency
The 50 ms backend gets its quarter: 50 of 200 expected, sigma 6;
tolerance 30.  It follows itself about 200 / 16 = 12 times (sigma 4);
weighted round robin: never.
--- http_config
    upstream app {
        weighted_random;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_4;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.002; echo fast; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 0.002; echo fast; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3; location / { echo_sleep 0.002; echo fast; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_4; location / { echo_sleep 0.05; echo slow; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(200, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
sub { main::draws(shift, 'slow', 20, 80, 2, 30) }
--- response_body
slow: yes
slow after slow: yes
--- timeout: 30



=== TEST 3: weighted_random two least_time=header sends little to a slow backend
Two distinct peers are drawn and the faster answers; the 50 ms backend
wins only while unmeasured.
--- http_config
    upstream app {
        weighted_random two least_time=header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_4;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.002; echo fast; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 0.002; echo fast; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3; location / { echo_sleep 0.002; echo fast; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_4; location / { echo_sleep 0.05; echo slow; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(200, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(fast => [198, 200], slow => [0, 2])
--- error_log eval
qr/weighted random two: 127\.0\.0\.1:\d+ [\d.]+, 127\.0\.0\.1:\d+ [\d.]+/
--- timeout: 10



=== TEST 4: weighted_random two prefers the peer with fewer active requests
Six requests 20 ms apart; 1991 hangs for a second.  Once one request
waits there, 1992 has fewer active requests and wins every draw.
--- http_config
    upstream app {
        weighted_random two;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 1; echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 0.002; echo 1992; } }
--- config eval
"location = /t { ${\ LatencyTest::parallel_requests(6, '/app', 0.02) } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [0, 1], 1992 => [5, 6])
--- timeout: 10



=== TEST 5: down and backup servers are honoured
One primary is down, the other refuses connections and is failed after
its first attempt; the backups take every request, by weight.
--- http_config
    upstream app {
        weighted_random two least_time=header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 down;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_9 max_fails=1 fail_timeout=30s;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 backup;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3 backup;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo 1991; } }
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



=== TEST 6: a retry draws among the peers not yet tried
Both 1998 and 1999 refuse connections (max_fails=0 keeps them in the
draw); every request still reaches 1991 within its three tries.  A retry
that could draw a server already tried would fail about a third of the
requests ((2/3)^3 of three tries to refused ones).
--- http_config
    upstream app {
        weighted_random;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_8 max_fails=0;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_9 max_fails=0;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo 1991; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(20, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body
1991: 20



=== TEST 7: keepalive after weighted_random two
--- http_config
    upstream app {
        weighted_random two least_time=header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        keepalive 8;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo 1991; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo 1992; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(10, '/app') } }
 location = /app {
     proxy_pass http://app;
     proxy_http_version 1.1;
     proxy_set_header Connection '';
 }"
--- request
GET /t
--- response_body_like eval
qr/\A(?:199[12]\n){10}\z/
--- error_log
get weighted random peer, try: 2
get keepalive peer: using connection
--- no_error_log
[error]



=== TEST 8: weighted_random two least_time=last_byte compares whole responses
One server sends its header at once and its body 100 ms later, the other
all of it after 20 ms.  By the last byte the second is better, by the
header the first: least_time=header would send nearly all to the first.
--- http_config
    upstream app {
        weighted_random two least_time=last_byte;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
             location / { echo -n slow; echo_flush; echo_sleep 0.1; echo; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
             location / { echo_sleep 0.02; echo fast; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(20, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(fast => [18, 19], slow => [1, 2])
--- timeout: 10



=== TEST 9: the largest weight the module takes keeps its share
A weight of 268435455 against 1: the light server's chance per draw is
4e-9, so 100 draws all go to the heavy one.
--- http_config
    upstream app {
        weighted_random;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 weight=268435455;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo heavy; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo light; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(100, '/app') } }
 location = /app { proxy_pass http://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body
heavy: 100
--- timeout: 20
