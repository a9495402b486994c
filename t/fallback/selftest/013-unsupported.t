# Upstream's sections and testing modes that the fallback does not
# implement stop the run (Bail out!) rather than pass without them: a block
# with an embedded TCP server, whose --- tcp_query went unchecked, and a
# valgrind run, which ran without valgrind.  Fallback only (upstream
# implements both): the file runs as a child.
use strict;
use warnings;

use File::Spec;
use Test::More;

my ($socket_pm) = grep { -f } map { File::Spec->catfile($_, qw(Test Nginx Socket.pm)) } @INC;
plan skip_all => 'the fallback runner only'
    unless $socket_pm && $socket_pm =~ m{\bfallback\b};
plan tests => 4;

my $file = 't/fallback/selftest/data/unsupported.t';

my $out = `$^X $file 2>&1`;
isnt($?, 0, 'a block with --- tcp_listen fails the file');
like($out, qr/^Bail out!.*TEST 1: an embedded TCP server - --- tcp_listen is not supported/m,
     'it says which section') or diag($out);

$out = `TEST_NGINX_USE_VALGRIND=1 $^X $file 2>&1`;
isnt($?, 0, 'TEST_NGINX_USE_VALGRIND fails the file');
like($out, qr/^Bail out!.*TEST_NGINX_USE_VALGRIND is not supported/m,
     'it says which mode') or diag($out);
