# master_on() with two workers.
use Test::Nginx::Socket;

master_on();
workers(2);
plan tests => repeat_each() * (3 * blocks());

my %nworkers;
add_response_body_check(sub {
    my ($block) = @_;
    open my $in, '<', $Test::Nginx::Util::PidFile or return;
    chomp(my $master = <$in>);
    my $n = 0;
    for my $stat (glob "/proc/[0-9]*/stat") {
        open my $fh, '<', $stat or next;
        my $line = <$fh> // next;
        $n++ if $line =~ /^\d+ \(.*\) [^Z] (\d+)/s && $1 == $master;
    }
    Test::More::is($n, 2, $block->name . " - two worker processes");
});

run_tests();

__DATA__

=== TEST 1: served by a worker, not by the master
--- config
    location = /t {
        echo "ok";
    }
--- request
GET /t
--- response_body
ok
