# Every configuration mistake stops nginx with a message naming the
# directive, the file and the line.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

# Besides the message each block expects: an [emerg] line that names the
# file and line.
add_block_preprocessor(sub {
    my ($block) = @_;
    my $own = $block->error_log;
    my @patterns = ref $own eq 'ARRAY' ? @$own
                 : ref $own            ? $own
                 :                       grep { length } split /\n+/, $own;
    $block->set_value(error_log => [@patterns,
                                    qr/\[emerg\] .* in \S+nginx\.conf:\d+$/]);
});

LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: least_time without an argument
--- http_config
    upstream app {
        least_time;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log eval
qr/invalid number of arguments in "least_time" directive in \S+nginx\.conf:\d+/



=== TEST 2: least_time with an unknown metric
--- http_config
    upstream app {
        least_time first_byte;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log eval
qr/invalid parameter "first_byte" of "least_time", expected "header" or "last_byte" in \S+nginx\.conf:\d+/



=== TEST 3: least_time with an unknown second argument
--- http_config
    upstream app {
        least_time header slowest;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log
invalid parameter "slowest" of "least_time", expected "inflight"



=== TEST 4: least_time with three arguments
--- http_config
    upstream app {
        least_time header inflight inflight;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log
invalid number of arguments in "least_time" directive



=== TEST 5: least_time twice in one upstream
--- http_config
    upstream app {
        least_time header;
        least_time last_byte;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log
"least_time" directive is duplicate



=== TEST 6: least_time after another balancing method
--- http_config
    upstream app {
        least_conn;
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log
"least_time" cannot follow another load balancing method or "keepalive" in upstream "app"



=== TEST 7: another balancing method after least_time
nginx's least_conn only warns when it replaces a method; the module
refuses to be replaced silently.
--- http_config
    upstream app {
        least_time header;
        hash $request_uri;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log eval
qr/"least_time" in upstream "app" was replaced by another load balancing method; only one method is allowed in \S+nginx\.conf:\d+/



=== TEST 8: least_time after keepalive
Before nginx 1.29.7, keepalive wraps the method configured before it, and
must come after it, as nginx documents; from 1.29.7 on, keepalive wraps the
upstream's method whatever the order (t/keepalive.t TEST 2).
--- skip_nginx: 2: >= 1.29.7: keepalive may precede the method since nginx 1.29.7
--- http_config
    upstream app {
        keepalive 8;
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log
"least_time" cannot follow another load balancing method or "keepalive"



=== TEST 9: least_time outside an upstream block
--- http_config
--- config
    location = /t {
        least_time header;
    }
--- must_die
--- error_log
"least_time" directive is not allowed here



=== TEST 10: a half-life of zero
--- http_config
    upstream app {
        least_time header;
        upstream_latency_half_life 0;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log
invalid value "0" of "upstream_latency_half_life", expected a time from 1ms to 24h



=== TEST 11: a half-life that is not a time
--- http_config
    upstream app {
        least_time header;
        upstream_latency_half_life soon;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log
invalid value "soon" of "upstream_latency_half_life"



=== TEST 12: a half-life without a balancing method of the module
--- http_config
    upstream app {
        upstream_latency_half_life 2s;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log eval
qr/"upstream_latency_half_life" needs "least_time" or "weighted_random" in the same upstream "app" in \S+nginx\.conf:\d+/



=== TEST 13: a latency zone too small for the configured peers
--- http_config eval
"upstream_latency_zone 32k;
 upstream app {
     least_time header;
" . CORE::join('', map { "server 127.0.0.1:" . (20000 + $_) . ";\n" } 1 .. 500) . "
 }"
--- config
--- must_die
--- error_log eval
qr/"upstream_latency_zone" of 32k holds \d+ peers, but 500 are configured; it needs at least \d+k in \S+nginx\.conf:\d+/



=== TEST 14: a latency zone below the minimum size
--- http_config
    upstream_latency_zone 1k;
--- config
--- must_die
--- error_log
invalid size "1k" of "upstream_latency_zone", expected 32k to 1024m



=== TEST 15: the latency zone inside a server block
--- config
    upstream_latency_zone 1m;
--- must_die
--- error_log
"upstream_latency_zone" directive is not allowed here



=== TEST 16: weighted_random with an unknown first argument
--- http_config
    upstream app {
        weighted_random three;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log eval
qr/invalid parameter "three" of "weighted_random", expected "two" in \S+nginx\.conf:\d+/



=== TEST 17: weighted_random two with an unknown method
--- http_config
    upstream app {
        weighted_random two least_time=first_byte;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log
invalid parameter "least_time=first_byte" of "weighted_random two", expected "least_conn", "least_time=header" or "least_time=last_byte"



=== TEST 18: weighted_random with three arguments
--- http_config
    upstream app {
        weighted_random two least_conn least_conn;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log
invalid number of arguments in "weighted_random" directive



=== TEST 19: weighted_random twice
--- http_config
    upstream app {
        weighted_random;
        weighted_random two;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log
"weighted_random" directive is duplicate



=== TEST 20: weighted_random and least_time in one upstream
--- http_config
    upstream app {
        weighted_random two least_time=header;
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log
"least_time" cannot follow another load balancing method or "keepalive" in upstream "app"



=== TEST 21: weighted_random replaced by nginx's random
--- http_config
    upstream app {
        weighted_random;
        random two;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log
"weighted_random" in upstream "app" was replaced by another load balancing method



=== TEST 22: a latency zone above the maximum size
--- http_config
    upstream_latency_zone 2000m;
--- config
--- must_die
--- error_log
invalid size "2000m" of "upstream_latency_zone", expected 32k to 1024m



=== TEST 23: the latency zone twice
--- http_config
    upstream_latency_zone 1m;
    upstream_latency_zone 2m;
--- config
--- must_die
--- error_log
"upstream_latency_zone" directive is duplicate



=== TEST 24: a half-life longer than a day
--- http_config
    upstream app {
        least_time header;
        upstream_latency_half_life 25h;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log
invalid value "25h" of "upstream_latency_half_life", expected a time from 1ms to 24h



=== TEST 25: a half-life with two values
--- http_config
    upstream app {
        least_time header;
        upstream_latency_half_life 1s 2s;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log
invalid number of arguments in "upstream_latency_half_life" directive



=== TEST 26: least_time is case-sensitive, as nginx's directives are
--- http_config
    upstream app {
        least_time HEADER;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log
invalid parameter "HEADER" of "least_time", expected "header" or "last_byte"



=== TEST 27: an absurd weight is nginx's own error, with least_time too
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 weight=0;
    }
--- config
--- must_die
--- error_log
invalid parameter "weight=0"



=== TEST 28: a negative fail_timeout is nginx's own error, with weighted_random too
--- http_config
    upstream app {
        weighted_random two;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 fail_timeout=-1s;
    }
--- config
--- must_die
--- error_log
invalid parameter "fail_timeout=-1s"



=== TEST 29: the status directive takes no argument
--- http_config
--- config
    location = /upstreams { upstream_latency_status on; }
--- must_die
--- error_log
invalid number of arguments in "upstream_latency_status" directive



=== TEST 30: the status directive twice in one location
--- http_config
--- config
    location = /upstreams {
        upstream_latency_status;
        upstream_latency_status;
    }
--- must_die
--- error_log
"upstream_latency_status" directive is duplicate



=== TEST 31: a slow start that is not a time
--- http_config
    upstream app {
        least_time header;
        upstream_latency_slow_start soon;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log
invalid value "soon" of "upstream_latency_slow_start", expected "off" or a time up to 1h



=== TEST 32: a slow start over an hour
--- http_config
    upstream app {
        weighted_random two least_time=header;
        upstream_latency_slow_start 2h;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log
invalid value "2h" of "upstream_latency_slow_start", expected "off" or a time up to 1h



=== TEST 33: slow start twice in one upstream
--- http_config
    upstream app {
        least_time header;
        upstream_latency_slow_start 5s;
        upstream_latency_slow_start off;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log
"upstream_latency_slow_start" directive is duplicate



=== TEST 34: slow start without a balancing method of the module
--- http_config
    upstream app {
        upstream_latency_slow_start 5s;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log eval
qr/"upstream_latency_slow_start" needs "least_time" or "weighted_random" in the same upstream "app" in \S+nginx\.conf:\d+/



=== TEST 35: slow start outside an upstream block
--- http_config
    upstream_latency_slow_start 5s;
--- config
--- must_die
--- error_log
"upstream_latency_slow_start" directive is not allowed here



=== TEST 36: a weight above what the module keeps
--- http_config
    upstream app {
        weighted_random;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 weight=4294967296;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
--- config
--- must_die
--- error_log eval
qr/"weight=4294967296" of server "127\.0\.0\.1:\d+" in upstream "app" is above the 268435455 that "weighted_random" takes in \S+nginx\.conf:\d+/



=== TEST 37: an upstream's zone named as the latency table's
--- http_config
    upstream app {
        zone upstream_latency 64k;
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log eval
qr/the shared memory zone "upstream_latency" is the latency table's, which the "http" block's upstreams of "least_time" or "weighted_random" need; another zone of that name must be renamed, in \S+nginx\.conf:\d+/



=== TEST 38: a limit_req zone named as the latency table's
--- http_config
    limit_req_zone $binary_remote_addr zone=upstream_latency:1m rate=1r/s;
    upstream app {
        weighted_random;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
--- config
--- must_die
--- error_log eval
qr/the shared memory zone "upstream_latency" is the latency table's/
