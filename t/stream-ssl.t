# Stream upstreams over TLS (proxy_ssl on): the connect time is nginx's
# $upstream_connect_time, and nginx 1.31's for least_time connect: from
# the choice of the server to the end of the TLS handshake.
# Ports: the stream listener on $TEST_NGINX_RAND_PORT_0, TLS backend 199N
# on $TEST_NGINX_RAND_PORT_N (it answers "199N"); connecting to
# $TEST_NGINX_UNACCEPTING_PORT never completes.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;
use Unaccepting;
use File::Temp qw(tempdir);

my $dir = tempdir(CLEANUP => 1);
system("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost"
       . " -keyout $dir/key.pem -out $dir/cert.pem 2>/dev/null") == 0
    or die "openssl could not make a test certificate\n";
$ENV{TEST_NGINX_CERT_DIR} = $dir;

Unaccepting::start();

no_long_string();
run_tests();

__DATA__

=== TEST 1: least_time connect: a TLS handshake that ends late makes a slow connect
1992 accepts the TCP connection at once: it is a stream relay to its TLS
server, which reaches that server only after its first server, the
unaccepting port, timed out (100 ms), so its TLS handshake ends 100 ms
late.  1991 is a TLS server reached directly.  Counted at the TCP
connection, both would connect in well under a millisecond and share the
sessions.
--- main_config
    stream {
        upstream app {
            least_time connect;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_0; proxy_pass app;
                 proxy_ssl on; }

        upstream late_tls {
            server 127.0.0.1:$TEST_NGINX_UNACCEPTING_PORT max_fails=0;
            server 127.0.0.1:$TEST_NGINX_RAND_PORT_3 backup;
        }
        server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
                 proxy_pass late_tls; proxy_connect_timeout 100ms; }
    }
--- http_config
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ssl;
        ssl_certificate $TEST_NGINX_CERT_DIR/cert.pem;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/key.pem;
        location / { echo 1991; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_3 ssl;
        ssl_certificate $TEST_NGINX_CERT_DIR/cert.pem;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/key.pem;
        location / { echo 1992; }
    }
--- config eval
"location = /t { ${\ LatencyTest::requests(30, '/app') } }
 location = /app { proxy_pass http://127.0.0.1:\$TEST_NGINX_RAND_PORT_0; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [27, 30], 1992 => [0, 3])
--- error_log eval
qr/upstream latency sample: connect [1-9]\d{5,}us/
--- timeout: 20
