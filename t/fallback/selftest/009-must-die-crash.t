# --- must_die with an nginx that crashes after printing its error: the
# runner must report "nginx core dumped", as upstream does, not "die as
# expected".  The same blocks pass with the real nginx.
use strict;
use warnings;

use File::Temp qw(tempdir);
use Test::More tests => 4;

my $dir = tempdir(CLEANUP => 1);
my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';

# Real nginx, then SIGSEGV (but answers -V, which the runner asks first).
write_file("$dir/crashing-nginx", <<"SH", 0755);
#!/bin/sh
'$nginx' "\$@"
[ "\$1" = -V ] || kill -SEGV \$\$
SH

write_file("$dir/config-error.t", <<'T');
use Test::Nginx::Socket;
plan tests => 2 * blocks();
no_shuffle();
run_tests();
__DATA__

=== TEST 1: must_die
--- config
    location = /t { no_such_directive; }
--- must_die
--- error_log
unknown directive "no_such_directive"

=== TEST 2: must_die with an exit code
--- config
    location = /t { no_such_directive; }
--- must_die: 1
--- error_log
unknown directive "no_such_directive"
T

sub write_file {
    my ($path, $text, $mode) = @_;
    open my $fh, '>', $path or die "$path: $!";
    print $fh $text;
    close $fh or die "$path: $!";
    chmod $mode, $path if $mode;
}

# TAP output of the inner test file run with $binary.
sub run_with {
    my $binary = shift;
    local $ENV{TEST_NGINX_BINARY} = $binary;
    local $ENV{TEST_NGINX_SERVROOT} = "$dir/servroot";
    return scalar `'$^X' '$dir/config-error.t' 2>&1`;
}

my $crashed = run_with("$dir/crashing-nginx");
like($crashed, qr/^not ok 1 - .*TEST 1: must_die - nginx core dumped$/m,
     'a crash is reported, not taken for dying as expected')
    or diag($crashed);
like($crashed, qr/^not ok 3 - .*TEST 2: .* - nginx core dumped$/m,
     'a crash is reported, not taken for the expected exit code')
    or diag($crashed);

my $real = run_with($nginx);
like($real, qr/^ok 1 - .*TEST 1: must_die - die as expected$/m,
     'the same block passes with the real nginx') or diag($real);
unlike($real, qr/^not ok/m, 'no failure with the real nginx') or diag($real);
