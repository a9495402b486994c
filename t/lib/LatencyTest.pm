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

1;
