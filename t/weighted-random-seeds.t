# weighted_random's draws differ from worker to worker and from start to
# start: each worker seeds its own generator (the same seed everywhere,
# or the clock alone, would repeat the same sequence).
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

# The sequence of draws of each worker in the previous block.
our @previous;

# Body: "pid label" per request, in order.  Each worker's first 20 draws
# (two equal servers) as a string; two independent ones are equal once in
# a million.
sub sequences {
    my %by_pid;
    for (split /\n/, shift) {
        my ($pid, $label) = split;
        $by_pid{$pid} .= $label if length($by_pid{$pid} // '') < 20;
    }
    return grep { length == 20 } values %by_pid;
}

master_on();
workers(2);
no_shuffle();
no_long_string();
run_tests();

__DATA__

=== TEST 1: two workers draw different sequences
Requests reach the front server on new connections; with reuseport the
kernel spreads them over both workers.
--- http_config
    upstream app {
        weighted_random;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo a; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo b; } }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_10 reuseport;
        location / { echo -n "$pid "; echo_location /app; }
        location /app { proxy_pass http://app; }
    }
--- config eval
"location = /t { ${\ LatencyTest::requests(200, '/front') } }
 location = /front { proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_10/; }"
--- request
GET /t
--- response_body_filters eval
sub { @main::previous = main::sequences(shift);
      "workers with 20 draws: " . @main::previous . "\n"
      . "their draws differ: "
      . ($main::previous[0] ne $main::previous[1] ? 'yes' : "no (@main::previous)") . "\n" }
--- response_body
workers with 20 draws: 2
their draws differ: yes
--- timeout: 20



=== TEST 2: after a restart, the workers draw sequences not drawn before
--- http_config
    upstream app {
        weighted_random;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo a; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo b; } }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_10 reuseport;
        location / { echo -n "$pid "; echo_location /app; }
        location /app { proxy_pass http://app; }
    }
--- config eval
"location = /t { ${\ LatencyTest::requests(200, '/front') } }
 location = /front { proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_10/; }"
--- request
GET /t
--- response_body_filters eval
sub { my @now = main::sequences(shift);
      my %before = map { $_ => 1 } @main::previous;
      "workers with 20 draws: " . @now . "\n"
      . "none drawn before the restart: "
      . ((grep { $before{$_} } @now) ? "no (@now, before @main::previous)" : 'yes') . "\n" }
--- response_body
workers with 20 draws: 2
none drawn before the restart: yes
--- timeout: 20
