# Helpers for the Test::Nginx suites: many requests from one location, and
# counting which backend answered them.
package LatencyTest;

use strict;
use warnings;

use Exporter 'import';
our @EXPORT = qw(requests parallel_requests tally counts);

# $n requests to $uri, one after another (echo module subrequests).
sub requests {
    my ($n, $uri) = @_;
    return "echo_location $uri;\n" x $n;
}

# $n requests to $uri, one started every $gap seconds, run concurrently.
sub parallel_requests {
    my ($n, $uri, $gap) = @_;
    return join "echo_sleep $gap;\n", ("echo_location_async $uri;\n") x $n;
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

# Test::Nginx: skips, with that reason, every block whose configuration
# has the least_time directive (not weighted_random's least_time=...).
sub skip_least_time_blocks {
    my $reason = nginx_least_time() or return;
    Test::Nginx::Socket::add_block_preprocessor(sub {
        my $block = shift;
        my $conf = join "\n", grep { defined }
                            $block->http_config, $block->config;
        $block->set_value(skip_nginx => "1: >= 1.31.0: $reason")
            if $conf =~ /(?:^|[{;])\s*least_time[\s;]/m;
    });
}

1;
