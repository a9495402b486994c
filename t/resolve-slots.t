# Servers that resolve take their slots from one pool of the table, shared
# by every upstream: each list (primary, backup) keeps its own slot for an
# address, and an upstream whose addresses found no slot left still
# answers, by round robin, when no measured server can take the request.
use strict;
use warnings;
use Test::More;
use HTTP::Tiny;
use JSON::PP;
use File::Temp qw(tempdir);
use Time::HiRes qw(sleep);
use lib 't/lib';
use LatencyTest ();
use OwnNginx;
use UdpBackend;
use LatencyTest;

LatencyTest::cannot_run(OwnNginx::missing()) if OwnNginx::missing();
plan skip_all => LatencyTest::nginx_no_resolve()
    if LatencyTest::nginx_no_resolve();
$SIG{ALRM} = sub { die "resolve-slots.t: out of time\n" };
alarm 120;

# nginx 1.31 and later have least_time of their own
my $method = LatencyTest::nginx_least_time()
             ? 'weighted_random two least_time=header' : 'least_time header';
my ($front, $backend, $dns) = LatencyTest::free_ports(3);
my $dir = tempdir(CLEANUP => 1);
my %file = map { ($_ => "$dir/$_") } qw(p.test b.test filler.test);
UdpBackend::dns(port => $dns, names => \%file);

sub resolve {
    my ($name, @addr) = @_;
    OwnNginx::write_file($file{$name}, join '', map { "$_\n" } @addr);
}

my $http = HTTP::Tiny->new(timeout => 5);

sub get { $http->get("http://127.0.0.1:$front$_[0]") }

sub upstream_status {
    my ($name) = @_;
    my $res = get('/status');
    die "status: $res->{status}\n" unless $res->{success};
    my $status = decode_json($res->{content});
    my ($u) = grep { $_->{name} eq $name } @{ $status->{upstreams} };
    return ($u, $status->{table});
}

# "b:3 p:2": app's peers, p(rimary) or b(ackup), by the address's last byte
sub app_peers {
    my ($u) = upstream_status('app');
    return join ' ', sort map {
        ($_->{backup} ? 'b' : 'p') . ':' . ($_->{server} =~ /\.(\d+):/)[0]
    } @{ $u->{peers} };
}

sub wait_for {
    my ($want) = @_;
    for (1 .. 100) {
        return 1 if app_peers() eq $want;
        sleep 0.1;
    }
    diag 'peers: ' . app_peers();
    return 0;
}

# filler.test resolves to more addresses than the table has slots free,
# which the filler upstream's peers then take
sub fill_the_table {
    my (undef, $table) = upstream_status('app');
    my $free = $table->{free};
    resolve('filler.test', map { '127.0.1.' . (1 + $_ % 250) } 0 .. $free + 2);
    for (1 .. 100) {
        last if @{ (upstream_status('filler'))[0]{peers} } > $free;
        sleep 0.1;
    }
    get('/filler/') for 1 .. 2;    # maps them to slots
}

sub http_block {
    my ($backup) = @_;
    my $backends = join '', map {
        "    server { listen 127.0.0.$_:$backend; location / { echo $_; } }\n"
    } 2 .. 4;
    return <<"HTTP";
    resolver 127.0.0.1:$dns valid=1s ipv6=off;
    upstream app {
        zone app 64k;
        $method;
        upstream_latency_slow_start off;
        server p.test:$backend resolve max_fails=0;
$backup    }
    upstream filler {
        zone filler 256k;
        $method;
        server filler.test:$backend resolve max_fails=0;
    }
$backends
    server {
        listen 127.0.0.1:$front;
        proxy_next_upstream off;
        location / { proxy_pass http://app; }
        location /filler { proxy_pass http://filler; }
        location = /status { upstream_latency_status; }
    }
HTTP
}

# One address among the primary and the backup servers: two slots.  They
# shared one before, taken by the backup list; when the backup name lost
# the address, its list released the slot the primary list still used,
# another upstream's peer took it, and the primary's requests were
# recorded as that peer's.
resolve('p.test', '127.0.0.2');
resolve('b.test', '127.0.0.3');
resolve('filler.test');
my $nginx = OwnNginx->start(port => $front, workers => 1, http =>
    http_block("        server b.test:$backend resolve max_fails=0 backup;\n"));

ok(wait_for('b:3 p:2'), 'primary 2, backup 3');
get('/') for 1 .. 3;
resolve('p.test', '127.0.0.2', '127.0.0.3');
ok(wait_for('b:3 p:2 p:3'), 'the primary name gained 3');
get('/') for 1 .. 3;
resolve('b.test', '127.0.0.4');
ok(wait_for('b:4 p:2 p:3'), 'the backup name lost 3 for 4');
get('/') for 1 .. 3;

my (undef, $table) = upstream_status('app');
is($table->{used}, 3, 'three addresses in the lists, three slots used')
    or diag explain $table;

fill_the_table();
get('/') for 1 .. 20;
my ($three) = grep { $_->{server} =~ /^127\.0\.0\.3:/ && !$_->{backup} }
              @{ (upstream_status('app'))[0]{peers} };
ok(defined $three->{requests}, 'the primary peer 3 keeps its slot')
    or diag explain $three;
my $filler = 0;
$filler += $_->{requests} // 0
    for @{ (upstream_status('filler'))[0]{peers} };
is($filler, 2, "the filler's peers count its 2 requests, none of app's");
$nginx->stop;

# The table full when app's name resolves: its peers have no slot, and
# every request was refused (502) while they answered.
resolve('p.test');
resolve('b.test');
resolve('filler.test');
$nginx = OwnNginx->start(port => $front, workers => 1, http => http_block(''));
fill_the_table();
resolve('p.test', '127.0.0.2', '127.0.0.3');
ok(wait_for('p:2 p:3'), 'the app name resolved to 2 and 3, no slot left');
my %answers;
for (1 .. 10) {
    my $res = get('/');
    $answers{$res->{success} ? $res->{content} =~ s/\s+//gr
                             : "error $res->{status}"}++;
}
is(($answers{2} // 0) + ($answers{3} // 0), 10,
   'the app answers while its servers do') or diag explain \%answers;
$nginx->stop;

alarm 0;
done_testing();
