# upstream_latency_status (http) also lists the stream block's upstreams,
# under "stream", with the fields of the NGINX Plus API's stream peer; the
# Prometheus metrics are nginx_stream_upstream_*.
# Ports: the stream listener on $TEST_NGINX_RAND_PORT_0, backend 199N on
# $TEST_NGINX_RAND_PORT_N (it answers "199N").
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;
use JSON::PP;
use File::Temp;
use UdpBackend;

# A DNS server for the servers that resolve: backends.test is 127.0.0.2
# and 127.0.0.3.
LatencyTest::file_ports(1);
UdpBackend::fixed_dns(port => $ENV{TEST_NGINX_FILE_PORT_1},
                      addresses => {'backends.test' => ['127.0.0.2',
                                                        '127.0.0.3']});

sub exposition_check {
    my ($body) = @_;
    my $file = File::Temp->new;
    print $file $body;
    close $file;
    my $out = `promtool check metrics < $file 2>&1`;
    my $verdict = $? == 0 ? "promtool: ok\n" : "promtool: $out";
    my %seen;
    $seen{$_}++ for $body =~ /^([^#\n].*) \S+$/mg;
    my @repeated = grep { $seen{$_} > 1 } sort keys %seen;
    return $verdict . 'repeated series: '
           . (@repeated ? CORE::join(', ', @repeated) : 'none') . "\n";
}

no_long_string();
no_shuffle();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: stream peers in the JSON: connections, bytes, the three times
Five sessions of "GET /" to 1991 (its answer is the http response);
1992 is a backup, never chosen.  The proxy speaks HTTP/1.0, so the
backend ends each session with its answer: from 1.29.7 nginx would keep
the last one open, and it would still be active.
--- main_config
    stream {
        upstream app {
            least_time first_byte;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 backup;
        }
        upstream plain { server 127.0.0.1:$TEST_NGINX_RAND_PORT_3; }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
    }
--- http_config
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.01; echo 1991; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(5, '/app') }
                 echo_location /upstreams; }
 location = /app { proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_0;
                   proxy_http_version 1.0; }
 location = /upstreams { upstream_latency_status; }"
--- request
GET /t
--- response_body_filters eval
sub { my ($json) = $_[0] =~ /(\{.*)/s;
      my $s = JSON::PP::decode_json($json)->{stream};
      my ($app, $plain) = @{ $s->{upstreams} };
      my ($p, $b) = @{ $app->{peers} };
      "zone: $s->{table}{zone} used $s->{table}{used}\n"
      . "app: $app->{method} observed " . ($app->{observed} ? 1 : 0) . "\n"
      . "1991: connections $p->{connections} fails $p->{fails} active $p->{active}"
      . " sent " . ($p->{sent} > 0 ? '>0' : 0)
      . " received " . ($p->{received} > 0 ? '>0' : 0) . "\n"
      . "connect_time " . (defined $p->{connect_time} && $p->{connect_time} < 10 ? 'ok' : 'no') . "\n"
      . "first_byte_time " . (defined $p->{first_byte_time} && $p->{first_byte_time} >= 9 && $p->{first_byte_time} < 500 ? 'ok' : "no ($p->{first_byte_time})") . "\n"
      . "response_time " . (defined $p->{response_time} && $p->{response_time} >= $p->{first_byte_time} ? 'ok' : 'no') . "\n"
      . "selected " . ($p->{selected} ? 'set' : 'null') . "\n"
      . "backup: $b->{server} backup " . ($b->{backup} ? 1 : 0) . " connections $b->{connections} first_byte_time " . ($b->{first_byte_time} // 'null') . "\n"
      . "plain: $plain->{method} observed " . ($plain->{observed} ? 1 : 0) . " peers " . scalar(@{ $plain->{peers} }) . "\n" }
--- response_body
zone: stream_upstream_latency used 2
app: least_time first_byte observed 1
1991: connections 5 fails 0 active 0 sent >0 received >0
connect_time ok
first_byte_time ok
response_time ok
selected set
backup: 127.0.0.1:$TEST_NGINX_RAND_PORT_2 backup 1 connections 0 first_byte_time null
plain: round robin observed 0 peers 1
--- timeout: 10



=== TEST 2: the Prometheus exposition with stream peers passes promtool
--- main_config
    stream {
        upstream app {
            weighted_random two least_time=connect;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_2 backup;
        }
        upstream plain { server 127.0.0.1:$TEST_NGINX_RAND_PORT_3; }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app; }
    }
--- http_config
    upstream httpapp { weighted_random; server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo 1991; } }
--- config eval
"location = /t { ${\ LatencyTest::requests(3, '/app') }
                 echo_location /upstreams 'format=prometheus'; }
 location = /app { proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_0; }
 location = /upstreams { upstream_latency_status; }"
--- request
GET /t
--- response_body_filters eval
sub { my ($body) = @_;
      $body =~ s/\A(?:1991\n)+//;
      my $labels = '{upstream="app",server="127.0.0.1:'
                   . LatencyTest::rand_port(1) . '"}';
      my ($conn) = $body =~ /^nginx_stream_upstream_peer_connections_total\Q$labels\E (\d+)$/m;
      my ($ct) = $body =~ /^nginx_stream_upstream_peer_connect_time_seconds\Q$labels\E (\S+)$/m;
      main::exposition_check($body)
      . "connections_total: $conn\nconnect_time: " . (defined $ct ? 'present' : 'absent') . "\n" }
--- response_body
promtool: ok
repeated series: none
connections_total: 3
connect_time: present



=== TEST 3: ?upstream= finds a stream upstream
--- main_config
    stream {
        upstream tcpapp { least_time connect; server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass tcpapp; }
    }
--- config
    location = /upstreams { upstream_latency_status; }
--- request
GET /upstreams?upstream=tcpapp
--- response_body_filters eval
sub { my $j = JSON::PP::decode_json(shift);
      scalar(@{ $j->{upstreams} }) . " http, "
      . scalar(@{ $j->{stream}{upstreams} }) . " stream: $j->{stream}{upstreams}[0]{name}\n" }
--- response_body
0 http, 1 stream: tcpapp



=== TEST 4: a round robin stream upstream lists the addresses its servers resolved to
As for http (t/status.t TEST 15); the status shows the stream block when
the module balances one of its upstreams (app).
--- skip_nginx: 2: < 1.27.3: nginx before 1.27.3 does not resolve servers at run time
--- main_config
    stream {
        resolver 127.0.0.1:$TEST_NGINX_FILE_PORT_1 ipv6=off;
        upstream app { weighted_random; server 127.0.0.1:$TEST_NGINX_RAND_PORT_1; }
        upstream plain {
            zone plain 64k;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1 weight=2;
            server backends.test:$TEST_NGINX_RAND_PORT_2 resolve;
            server backends.test:$TEST_NGINX_RAND_PORT_3 resolve backup down;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass plain; }
    }
--- config
    location = /t { echo_sleep 0.5; echo_location /upstreams; }
    location = /upstreams { upstream_latency_status; }
--- request
GET /t
--- response_body_filters eval
sub { my ($u) = grep { $_->{name} eq 'plain' }
                @{ JSON::PP::decode_json(shift)->{stream}{upstreams} };
      LatencyTest::peer_lines($u->{peers}) }
--- response_body
127.0.0.1:$TEST_NGINX_RAND_PORT_1 (127.0.0.1:$TEST_NGINX_RAND_PORT_1) w2 up
127.0.0.2:$TEST_NGINX_RAND_PORT_2 (backends.test:$TEST_NGINX_RAND_PORT_2) w1 up
127.0.0.3:$TEST_NGINX_RAND_PORT_2 (backends.test:$TEST_NGINX_RAND_PORT_2) w1 up
127.0.0.2:$TEST_NGINX_RAND_PORT_3 (backends.test:$TEST_NGINX_RAND_PORT_3) w1 backup down
127.0.0.3:$TEST_NGINX_RAND_PORT_3 (backends.test:$TEST_NGINX_RAND_PORT_3) w1 backup down
