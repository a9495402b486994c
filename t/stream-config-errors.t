# Stream upstreams: every configuration mistake stops nginx with a message
# naming the directive, the file and the line.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: least_time with an http metric
--- main_config
    stream {
        upstream app {
            least_time header;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
    }
--- config
--- must_die
--- error_log eval
qr/invalid parameter "header" of "least_time", expected "connect", "first_byte" or "last_byte" in \S+nginx\.conf:\d+/


=== TEST 2: least_time without an argument
--- main_config
    stream {
        upstream app {
            least_time;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
    }
--- config
--- must_die
--- error_log eval
qr/invalid number of arguments in "least_time" directive in \S+nginx\.conf:\d+/


=== TEST 3: least_time with an unknown second argument
--- main_config
    stream {
        upstream app {
            least_time connect slowest;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
    }
--- config
--- must_die
--- error_log eval
qr/invalid parameter "slowest" of "least_time", expected "inflight" in \S+nginx\.conf:\d+/


=== TEST 4: weighted_random two with an http metric
--- main_config
    stream {
        upstream app {
            weighted_random two least_time=header;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
    }
--- config
--- must_die
--- error_log eval
qr/invalid parameter "least_time=header" of "weighted_random two", expected "least_conn", "least_time=connect", "least_time=first_byte" or "least_time=last_byte" in \S+nginx\.conf:\d+/


=== TEST 5: least_time after another balancing method
--- main_config
    stream {
        upstream app {
            least_conn;
            least_time first_byte;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
    }
--- config
--- must_die
--- error_log eval
qr/"least_time" cannot follow another load balancing method or "keepalive" in upstream "app"; only one method is allowed, and it must come before "keepalive" in \S+nginx\.conf:\d+/


=== TEST 6: another balancing method after least_time
--- main_config
    stream {
        upstream app {
            least_time first_byte;
            hash $remote_addr;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
    }
--- config
--- must_die
--- error_log eval
qr/"least_time" in upstream "app" was replaced by another load balancing method; only one method is allowed in \S+nginx\.conf:\d+/


=== TEST 7: least_time twice
--- main_config
    stream {
        upstream app {
            least_time first_byte;
            least_time last_byte;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
    }
--- config
--- must_die
--- error_log eval
qr/"least_time" directive is duplicate in \S+nginx\.conf:\d+/


=== TEST 8: a half-life without a balancing method of the module
--- main_config
    stream {
        upstream app {
            upstream_latency_half_life 2s;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
    }
--- config
--- must_die
--- error_log eval
qr/"upstream_latency_half_life" needs "least_time" or "weighted_random" in the same upstream "app" in \S+nginx\.conf:\d+/


=== TEST 9: a half-life of zero
--- main_config
    stream {
        upstream app {
            least_time connect;
            upstream_latency_half_life 0;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
    }
--- config
--- must_die
--- error_log eval
qr/invalid value "0" of "upstream_latency_half_life", expected a time from 1ms to 24h in \S+nginx\.conf:\d+/


=== TEST 10: a latency zone too small for the configured peers
--- main_config eval
"stream {
     upstream_latency_zone 32k;
     upstream app {
         least_time connect;
" . CORE::join('', map { "server 127.0.0.1:" . (20000 + $_) . ";\n" } 1 .. 500) . "
     }
     server { listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
 }"
--- config
--- must_die
--- error_log eval
qr/"upstream_latency_zone" of 32k holds \d+ peers, but 500 are configured; it needs at least \d+k in \S+nginx\.conf:\d+/


=== TEST 11: the latency zone twice
--- main_config
    stream {
        upstream_latency_zone 64k;
        upstream_latency_zone 64k;
        upstream app {
            least_time connect;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
    }
--- config
--- must_die
--- error_log eval
qr/"upstream_latency_zone" directive is duplicate in \S+nginx\.conf:\d+/


=== TEST 12: least_time outside an upstream block
--- main_config
    stream {
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; least_time connect;
                 proxy_pass 127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
    }
--- config
--- must_die
--- error_log eval
qr/"least_time" directive is not allowed here in \S+nginx\.conf:\d+/


=== TEST 13: slow start without a balancing method of the module
--- main_config
    stream {
        upstream app {
            upstream_latency_slow_start 5s;
            server 127.0.0.1:1991;
        }
        server { listen 127.0.0.1:1990; proxy_pass app; }
    }
--- config
--- must_die
--- error_log eval
qr/"upstream_latency_slow_start" needs "least_time" or "weighted_random" in the same upstream "app" in \S+nginx\.conf:\d+/


=== TEST 14: a slow start that is not a time
--- main_config
    stream {
        upstream app {
            least_time connect;
            upstream_latency_slow_start -1s;
            server 127.0.0.1:1991;
        }
        server { listen 127.0.0.1:1990; proxy_pass app; }
    }
--- config
--- must_die
--- error_log eval
qr/invalid value "-1s" of "upstream_latency_slow_start", expected "off" or a time up to 1h in \S+nginx\.conf:\d+/


=== TEST 15: a weight above what the module keeps
--- main_config
    stream {
        upstream app {
            least_time connect;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 weight=268435456;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
    }
--- config
--- must_die
--- error_log eval
qr/"weight=268435456" of server "127\.0\.0\.1:\d+" in upstream "app" is above the 268435455 that "least_time" takes in \S+nginx\.conf:\d+/


=== TEST 16: a limit_conn zone named as the latency table's
--- main_config
    stream {
        limit_conn_zone $binary_remote_addr zone=stream_upstream_latency:1m;
        upstream app {
            weighted_random;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
    }
--- config
--- must_die
--- error_log eval
qr/the shared memory zone "stream_upstream_latency" is the latency table's, which the "stream" block's upstreams of "least_time" or "weighted_random" need; another zone of that name must be renamed, in \S+nginx\.conf:\d+/
