# Helpers for the Test::Nginx suites: many requests from one location, and
# counting which backend answered them.  Loaded after Test::Nginx::Socket
# (upstream's or t/fallback's), it also makes every block fail on a worse
# line than [error] in the error log; see fail_on_alerts.
package LatencyTest;

use strict;
use warnings;

use Exporter 'import';
use IO::Socket::INET;
our @EXPORT = qw(requests parallel_requests tally counts);

# A block preprocessor: the block's --- no_error_log gets [alert], [crit]
# and [emerg] (a worker that died on a signal, a failed allocation, a
# rejected configuration), except a level its --- error_log or
# --- grep_error_log expects (or its --- no_error_log already names), and
# [emerg] when it has --- must_die.  Its --- no_shutdown_error_log gets
# them too, for what nginx logs while it stops after the block (a worker
# dying as it finishes its last requests), except a level its
# --- shutdown_error_log expects; not for --- must_die, whose nginx never
# ran.
sub fail_on_alerts {
    my ($block) = @_;
    add_levels($block, 'no_error_log',
               [qw(error_log grep_error_log no_error_log)],
               defined $block->must_die ? [qw(alert crit)] : undef);
    add_levels($block, 'no_shutdown_error_log',
               [qw(shutdown_error_log no_shutdown_error_log)])
        unless defined $block->must_die;
}

# Adds to the block's $section the patterns [alert], [crit] and [emerg]
# (or those of @$levels), less those that its sections @$named mention.
sub add_levels {
    my ($block, $section, $named, $levels) = @_;
    my $text = join "\n", map { ref eq 'ARRAY' ? @$_ : $_ }
        grep { defined } map { scalar $block->$_ } @$named;
    my @levels = grep { $text !~ /\b$_\b/ } @{ $levels // [qw(alert crit emerg)] };
    return unless @levels;

    my $own = $block->$section;
    my @patterns = !defined $own      ? ()
                 : ref $own eq 'ARRAY' ? @$own
                 : ref $own            ? $own
                 :                       grep { length } split /\n+/, $own;
    $block->set_value($section => [@patterns, map { "[$_]" } @levels]);
}

Test::Nginx::Socket::add_block_preprocessor(\&fail_on_alerts)
    if defined &Test::Nginx::Socket::add_block_preprocessor;

# Ends a test file that cannot run here.  Under make (LATENCY_TEST_STRICT=1)
# that is an error which stops the run; run by hand, a skip, said loudly.
sub cannot_run {
    my ($reason) = @_;
    Test::More::BAIL_OUT("$0 cannot run: $reason") if $ENV{LATENCY_TEST_STRICT};
    my $line = '*' x 72;
    Test::More::diag("$line\n$0 SKIPPED: $reason\n"
                     . "(make prove and make test fail on this)\n$line");
    # a file that loaded Test::Nginx::Socket 'no_plan' has a plan already
    my $builder = Test::More->builder;
    $builder->reset if $builder->has_plan;
    $builder->skip_all($reason);
}

# Stops the file (cannot_run) unless each program in @paths is installed.
sub require_programs {
    -x or cannot_run("$_ is missing (make deps installs it)") for @_;
}

# $n distinct ports free on 127.0.0.1 now (not the Test::Nginx server's),
# from the range of upstream Test::Nginx's random ports.
sub free_ports {
    my ($n) = @_;
    my %ports;
    for (1 .. 1000) {
        return keys %ports if keys %ports == $n;
        my $port = 1988 + int rand(65535 - 1988);
        next if $port == ($Test::Nginx::Util::ServerPort // 0);
        IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $port,
                              Listen => 1) or next;
        $ports{$port} = 1;
    }
    die "LatencyTest: no $n free ports\n";
}

# Sets $TEST_NGINX_FILE_PORT_1 to _$n to free ports that, unlike
# $TEST_NGINX_RAND_PORT_N, stay the same for every block of the file (as
# the backends of a test that reloads nginx between blocks must).
sub file_ports {
    my @ports = free_ports(shift);
    $ENV{"TEST_NGINX_FILE_PORT_$_"} = $ports[$_ - 1] for 1 .. @ports;
}

# The port the running block's $TEST_NGINX_RAND_PORT_$n stands for (both
# runners keep a block's ports in $Test::Nginx::Util::RandPorts), for
# response body filters that talk to nginx or read the addresses it shows.
sub rand_port {
    my ($n) = @_;
    return $Test::Nginx::Util::RandPorts->{"TEST_NGINX_RAND_PORT_$n"}
        // die "LatencyTest: the block has no \$TEST_NGINX_RAND_PORT_$n\n";
}

# $n requests to each of @uris in turn, one after another (echo module
# subrequests).
sub requests {
    my ($n, @uris) = @_;
    return join('', map { "echo_location $_;\n" } @uris) x $n;
}

# $n requests to $uri, one started every $gap seconds, run concurrently.
sub parallel_requests {
    my ($n, $uri, $gap) = @_;
    return join "echo_sleep $gap;\n", ("echo_location_async $uri;\n") x $n;
}

# http_config: upstream "app" balanced by $method, its estimates held and
# halved every $half_life, over two backends, on $TEST_NGINX_RAND_PORT_1
# and _2, whose server blocks hold $locations_1 and $locations_2.
sub two_backends {
    my ($method, $half_life, $locations_1, $locations_2) = @_;
    return "
    upstream app {
        $method;
        upstream_latency_half_life $half_life;
        server 127.0.0.1:\$TEST_NGINX_RAND_PORT_1;
        server 127.0.0.1:\$TEST_NGINX_RAND_PORT_2;
    }
    server { listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_1;
             $locations_1 }
    server { listen 127.0.0.1:\$TEST_NGINX_RAND_PORT_2;
             $locations_2 }";
}

# Response body filter: each line names the backend that answered; the
# result is one line "backend: count" per backend, in order.
sub tally {
    my %count;
    $count{$_}++ for grep { /\S/ } split /\n/, shift;
    return join '', map { "$_: $count{$_}\n" } sort keys %count;
}

# Pattern matching a tally where each backend's count lies within its
# [low, high]; a backend allowed 0 may be missing from the tally.
sub counts {
    my %range = @_;
    my $pattern = join '', map {
        my ($low, $high) = @{ $range{$_} };
        my $line = "$_: (?:" . join('|', $low .. $high) . ")\\n";
        $low == 0 ? "(?:$line)?" : $line;
    } sort keys %range;
    return qr/\A$pattern\z/;
}

# Response body filter's lines for a status's peers, one per peer:
# "server (name) wWEIGHT[ backup] state", primary ones first, by server.
sub peer_lines {
    my ($peers) = @_;
    return join '', map { "$_->{server} ($_->{name}) w$_->{weight}"
                          . ($_->{backup} ? ' backup' : '') . " $_->{state}\n" }
        sort { $a->{backup} <=> $b->{backup} || $a->{server} cmp $b->{server} }
            @$peers;
}

# The version of the nginx under test (TEST_NGINX_BINARY), 1.30.4 as 1030004.
sub nginx_version {
    my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $out = `$nginx -v 2>&1`;
    $out =~ m{nginx/(\d+)\.(\d+)\.(\d+)} or die "$nginx -v: $out";
    return $1 * 1_000_000 + $2 * 1_000 + $3;
}

# nginx 1.31 and later have their own least_time, and the module leaves the
# directive to nginx: there, the reason to skip the module's tests of it.
sub nginx_least_time {
    return nginx_version() >= 1_031_000
        ? "nginx 1.31+ has its own least_time, not the module's" : undef;
}

# nginx resolves "server ... resolve" at run time from 1.27.3 on: before,
# the reason to skip the tests of it.
sub nginx_no_resolve {
    return nginx_version() < 1_027_003
        ? "nginx before 1.27.3 does not resolve servers at run time" : undef;
}

# Test::Nginx: skips, with that reason, every block whose configuration
# (http or stream) has the least_time directive (not weighted_random's
# least_time=...).
sub skip_least_time_blocks {
    my $reason = nginx_least_time() or return;
    Test::Nginx::Socket::add_block_preprocessor(sub {
        my $block = shift;
        my $conf = join "\n", grep { defined } $block->main_config,
                            $block->http_config, $block->config;
        $block->set_value(skip_nginx => "1: >= 1.31.0: $reason")
            if $conf =~ /(?:^|[{;])\s*least_time[\s;]/m;
    });
}

1;
