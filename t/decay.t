# Old estimates fade, so a peer that was slow is probed again; how often
# depends on upstream_latency_half_life.  Counted per second of the run,
# which a loaded machine stretches, not per request.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;

# Body: "start T", one line per answering backend, "end T" (T in seconds).
# Returns "probes per second of BACKEND in [LOW, HIGH]: yes" or "no (...)",
# not counting the first request, which goes to the unmeasured backend.
sub probe_rate {
    my ($body, $backend, $low, $high) = @_;
    my ($start, $end) = $body =~ /^start (\S+)\n.*^end (\S+)$/ms;
    my $elapsed = $end - $start;
    my $probes = () = $body =~ /^$backend$/mg;
    my $rate = ($probes - 1) / $elapsed;
    my $figures = sprintf '%d probes in %.2f s', $probes, $elapsed;
    Test::More::diag("$backend: $figures");
    my $verdict = $rate >= $low && $rate <= $high ? 'yes' : "no ($figures)";
    return "probes per second of $backend in [$low, $high]: $verdict\n";
}

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: a 200 ms peer is probed about twice a second at a 50 ms half-life, not at 1 s
Two upstreams, each a 2 ms and a 200 ms backend, take turns for 600
requests (about 3 s idle, longer on a loaded machine).  At 50 ms a probe
comes every 1 + log2(200 / 2.25) = 7.5 half-lives (the estimate holds
for one, then halves) plus the probe itself, 0.58 s: 1.7 a second; at
most 2.5 if the fast one slows to 20 ms, at least 1.4 if the probes take
300 ms.  At 1 s the same decay takes 7.5 s (4.2 s if the fast one is at
20 ms): at most 0.25 more probes a second, none in an idle run.  Without
decay neither is probed again; with the half-life ignored, both would be
probed alike.
--- http_config
    upstream fast_decay {
        least_time header;
        upstream_latency_half_life 50ms;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
    }
    upstream default_decay {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_4;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_3;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.002; echo fast; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2; location / { echo_sleep 0.2; echo slow-50ms; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3; location / { echo_sleep 0.002; echo fast; } }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_4; location / { echo_sleep 0.2; echo slow-1s; } }
--- config eval
"location = /t { echo \"start \$msec\";
                 ${\ LatencyTest::requests(300, '/fast_decay', '/default_decay') }
                 echo \"end \$msec\"; }
 location = /fast_decay { proxy_pass http://fast_decay; }
 location = /default_decay { proxy_pass http://default_decay; }"
--- request
GET /t
--- response_body_filters eval
sub { my $body = shift;
      main::probe_rate($body, 'slow-50ms', 0.8, 5)
      . main::probe_rate($body, 'slow-1s', 0, 0.6) }
--- response_body
probes per second of slow-50ms in [0.8, 5]: yes
probes per second of slow-1s in [0, 0.6]: yes
--- timeout: 60
