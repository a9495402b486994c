# skip_all on the use line ends the file right away.
use Test::Nginx::Socket skip_all => 'checking skip_all';

run_tests();

__DATA__

=== TEST 1: never run
--- config
--- request
GET /
