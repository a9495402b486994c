# A server name resolving to several addresses is one peer per address,
# each measured.  nginx resolves the name when it reads its configuration;
# this file runs in a mount namespace of its own, where /etc/hosts gives
# backends.test two addresses whatever the machine's /etc/hosts says.
use Test::Nginx::Socket 'no_plan';
use lib 't/lib';
use LatencyTest;
use File::Temp;
use Socket qw(getaddrinfo getnameinfo AF_INET SOCK_STREAM NI_NUMERICHOST);

BEGIN {
    if (!defined $ENV{LATENCY_TEST_HOSTS}) {
        system('unshare --mount true 2>/dev/null') == 0
            or LatencyTest::cannot_run('no mount namespace (unshare, root)');
        my $hosts = File::Temp->new(UNLINK => 0);
        print $hosts "127.0.0.1 backends.test\n127.0.0.2 backends.test\n";
        close $hosts;
        $ENV{LATENCY_TEST_HOSTS} = $hosts->filename;
        exec 'unshare', '--mount', 'sh', '-c',
             'mount --bind "$1" /etc/hosts; rm -f "$1"; shift; exec "$@"',
             'sh', $hosts->filename, $^X, $0, @ARGV
            or LatencyTest::cannot_run("unshare: $!");
    }
}

my (undef, @found) = getaddrinfo('backends.test', undef,
                                 { family => AF_INET, socktype => SOCK_STREAM });
my %addresses = map { (getnameinfo($_->{addr}, NI_NUMERICHOST))[1] => 1 } @found;
join(' ', sort keys %addresses) eq '127.0.0.1 127.0.0.2'
    or LatencyTest::cannot_run('no private /etc/hosts for backends.test');

no_long_string();
LatencyTest::skip_least_time_blocks();
run_tests();

__DATA__

=== TEST 1: least_time measures each address of a server name
backends.test is 127.0.0.1, which answers in 100 ms, and 127.0.0.2,
which answers at once: the first is probed once, then avoided.  Round
robin gives it half; one measurement for the name would mix both.
--- http_config
    upstream app {
        least_time header;
        server backends.test:$TEST_NGINX_RAND_PORT_1;
    }
    server { listen 127.0.0.1:$TEST_NGINX_RAND_PORT_1; location / { echo_sleep 0.1; echo slow; } }
    server { listen 127.0.0.2:$TEST_NGINX_RAND_PORT_1; location / { echo fast; } }
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
