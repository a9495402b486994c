# least_time balances HTTPS upstreams; SSL sessions are reused as with
# round robin, and so are keepalive connections.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;
use File::Temp qw(tempdir);

my $dir = tempdir(CLEANUP => 1);
system("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost"
       . " -keyout $dir/key.pem -out $dir/cert.pem 2>/dev/null") == 0
    or die "openssl could not make a test certificate\n";
$ENV{TEST_NGINX_CERT_DIR} = $dir;

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: proxy_pass https:// through least_time
1991 answers in 2 ms, 1992 in 250 ms: a gap that the hiccups of a loaded
machine (a handshake per request, under ASan in make test) rarely close;
1992 is probed once, then seldom.  At 100 ms, a run of make test-stress
with more load on top saw 9 against 11: each hiccup over 100 ms made 1991
the slower peer until it decayed.  Round robin gives 10 each.
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:$TEST_NGINX_RAND_PORT_2;
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1 ssl;
        ssl_certificate $TEST_NGINX_CERT_DIR/cert.pem;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/key.pem;
        location / { echo_sleep 0.002; echo 1991; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_RAND_PORT_2 ssl;
        ssl_certificate $TEST_NGINX_CERT_DIR/cert.pem;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/key.pem;
        location / { echo_sleep 0.25; echo 1992; }
    }
--- config eval
"location = /t { ${\ LatencyTest::requests(20, '/app') } }
 location = /app {
     proxy_pass https://app;
     # a connection per request (nginx 1.29.7+ keeps them by default), so a
     # handshake per request, resuming the peer's session
     proxy_http_version 1.0;
 }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [12, 19], 1992 => [1, 8])
--- error_log eval
[qr/least time peer 127\.0\.0\.1:\d+/, 'SSL reused session']
--- no_error_log
[error]



=== TEST 2: keepalive connections to HTTPS peers are reused, without a handshake
--- http_config
    upstream app {
        least_time header;
        server 127.0.0.1:1991;
        server 127.0.0.1:1992;
        keepalive 8;
    }
    server {
        listen 127.0.0.1:1991 ssl;
        ssl_certificate $TEST_NGINX_CERT_DIR/cert.pem;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/key.pem;
        location / { echo_sleep 0.002; echo 1991; }
    }
    server {
        listen 127.0.0.1:1992 ssl;
        ssl_certificate $TEST_NGINX_CERT_DIR/cert.pem;
        ssl_certificate_key $TEST_NGINX_CERT_DIR/key.pem;
        location / { echo_sleep 0.03; echo 1992; }
    }
--- config eval
"location = /t { ${\ LatencyTest::requests(20, '/app') } }
 location = /app {
     proxy_pass https://app;
     proxy_http_version 1.1;
     proxy_set_header Connection '';
 }"
--- request
GET /t
--- error_log
get keepalive peer: using connection
--- no_error_log
SSL reused session
[error]
