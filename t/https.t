# least_time balances HTTPS upstreams; SSL sessions are reused as with
# round robin.
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
run_tests();

__DATA__

=== TEST 1: proxy_pass https:// through least_time
1991 answers in 2 ms, 1992 in 30 ms: a gap that the hiccups of a loaded
machine rarely close; 1992 is probed once, then seldom.
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
        location / { echo_sleep 0.03; echo 1992; }
    }
--- config eval
"location = /t { ${\ LatencyTest::requests(20, '/app') } }
 location = /app { proxy_pass https://app; }"
--- request
GET /t
--- response_body_filters eval
\&LatencyTest::tally
--- response_body_like eval
LatencyTest::counts(1991 => [15, 19], 1992 => [1, 5])
--- error_log eval
[qr/least time peer 127\.0\.0\.1:\d+/, 'SSL reused session']
--- no_error_log
[error]
