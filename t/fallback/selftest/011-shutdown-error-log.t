# --- shutdown_error_log and --- no_shutdown_error_log: checked on what
# nginx logs after the block's own checks until it exits, once it is
# stopped (at the next block's start, or at the end), with one subtest per
# pattern; skipped in HUP mode, where nginx only reloads.
use strict;
use warnings;

use File::Temp qw(tempdir);
use Test::More tests => 7;

my $dir = tempdir(CLEANUP => 1);

write_file("$dir/shutdown.t", <<'T');
use Test::Nginx::Socket;
plan tests => 7;
master_on();
no_shuffle();
run_tests();
__DATA__

=== TEST 1: lines logged while nginx exits, not those of the requests
--- config
--- request
GET /missing.txt
--- error_code: 404
--- error_log
open()
--- shutdown_error_log eval
["gracefully shutting down", qr/worker process \d+ exited with code 0/]
--- no_shutdown_error_log
open()

=== TEST 2: a line nginx does not log at exit
--- config
--- request
GET /missing.txt
--- error_code: 404
--- shutdown_error_log
no such line
T

sub write_file {
    my ($path, $text) = @_;
    open my $fh, '>', $path or die "$path: $!";
    print $fh $text;
    close $fh or die "$path: $!";
}

# TAP output of the inner test file, with the environment given.
sub run_with {
    my (%env) = @_;
    local @ENV{keys %env} = values %env;
    local $ENV{TEST_NGINX_SERVROOT} = "$dir/servroot";
    return scalar `'$^X' '$dir/shutdown.t' 2>&1`;
}

my $out = run_with();
like($out, qr/^ok 3 - .*TEST 1: .* - pattern "gracefully shutting down" matches a line in error\.log$/m,
     'a line of the exit, checked when the next block starts') or diag($out);
like($out, qr/^ok 5 - .*TEST 1: .* - pattern "open\(\)" does not match a line in error\.log$/m,
     'lines of the requests are not the exit\'s') or diag($out);
like($out, qr/^not ok 7 - .*TEST 2: .* - pattern "no such line" should match a line in error\.log$/m,
     'the last block\'s, checked at the end, can fail') or diag($out);
unlike($out, qr/planned|^not ok [1-6] /m, 'the plan counts one subtest a pattern')
    or diag($out);

my $hup = run_with(TEST_NGINX_USE_HUP => 1);
like($hup, qr/^ok 3 # skip .*TEST 1: .* - shutdown_error_log - tests skipped due to dry_run$/m,
     'HUP mode skips them') or diag($hup);
like($hup, qr/^ok 7 # skip .*TEST 2: /m, 'also at the end') or diag($hup);
unlike($hup, qr/planned|^not ok/m, 'with the same count') or diag($hup);
