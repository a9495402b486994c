# skip_all on the use line ends the file right away, with TAP's skip plan.
# The skipping file runs as a child, so that a run of the selftests shows
# no "skipped" of its own.
use strict;
use warnings;

use Test::More tests => 2;

my $out = `$^X t/fallback/selftest/data/skip-all.t 2>&1`;

is($? >> 8, 0, 'a skipped file exits 0');
like($out, qr/^1\.\.0 # SKIP checking skip_all$/m,
     'it prints the skip plan with the reason');
