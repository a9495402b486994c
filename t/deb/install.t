# The Debian packages of `make deb` (the .deb files given as arguments),
# installed with apt as an administrator would: each enables its module in
# /etc/nginx (the stream one after Debian's stream module), a site using
# the module proxies a request (http) or a TCP connection (stream), and
# removing then purging the packages leaves a stock /etc/nginx that still
# passes nginx -t.
# It changes the system: it runs as root, and refuses packages or module
# files already installed (it would purge them).  One run at a time.
use strict;
use warnings;

use FindBin;
use lib "$FindBin::Bin/../lib";

use Cwd qw(abs_path);
use Fcntl qw(:flock);
use HTTP::Tiny;
use JSON::PP qw(decode_json);
use Test::More;
use OwnNginx;

my $MODULES = '/usr/lib/nginx/modules';
my $AVAILABLE = '/usr/share/nginx/modules-available';
my $ENABLED = '/etc/nginx/modules-enabled';

# By package name: the site whose traffic its module must balance, and the
# packages of the nginx modules it needs loaded before it.
my %site = ('libnginx-mod-http-upstream-latency' => \&http_site,
            'libnginx-mod-stream-upstream-latency' => \&stream_site);
my %needs = ('libnginx-mod-http-upstream-latency' => [],
             'libnginx-mod-stream-upstream-latency' => ['libnginx-mod-stream']);

my @debs = map { -f $_ ? abs_path($_) : BAIL_OUT("$_: no such file") } @ARGV
    or BAIL_OUT('usage: prove t/deb/install.t :: PACKAGE.deb...');
BAIL_OUT('installs packages: run as root') if $> != 0;

open my $lock, '>', '/run/lock/nginx-upstream-latency-test-deb' or die $!;
flock $lock, LOCK_EX or die $!;

my @packages = map { package_of($_) } @debs;
for my $p (@packages) {
    BAIL_OUT("$p->{name} is installed already: purge it first")
        if installed($p->{name});
    BAIL_OUT("$_ exists (make install?): remove it first")
        for grep { -e } "$MODULES/$p->{so}", "$AVAILABLE/$p->{conf}";
}
END { local $?; purge_leftovers() }

my $abi = nginx_abi();
for my $p (@packages) {
    my $deps = output("dpkg-deb -f $p->{deb} Depends");
    my @deps = map { s/\s.*//sr } split /,\s*/, $deps;
    is_deeply [grep { /^nginx-abi-/ } @deps], [$abi],
        "$p->{name} depends on $abi, the ABI of the installed nginx";
    is_deeply [grep { /^libnginx-mod-/ } @deps], $needs{$p->{name}} || [],
        "$p->{name} depends on the modules it needs";
}

apt('install', @debs);
for my $p (@packages) {
    ok installed($p->{name}), "$p->{name} installed";
    ok -f "$MODULES/$p->{so}", "$p->{so} installed";
    is read_file("$AVAILABLE/$p->{conf}"), "load_module modules/$p->{so};\n",
        "$p->{conf} in modules-available loads it";
    my @links = enabled($p);
    is scalar(@links), 1, "one $p->{conf} link in modules-enabled";
    is readlink($links[0]), "$AVAILABLE/$p->{conf}",
        "$links[0] enables it" if @links;
}
my ($tested, $stock) = run('nginx -T');
ok $tested == 0, 'nginx -t of the stock /etc/nginx passes after install'
    or diag $stock;
for my $p (@packages) {
    like $stock, qr/^load_module modules\/\Q$p->{so}\E;$/m,
        "the stock nginx.conf loads $p->{so}";
}

my @sites;
for my $p (@packages) {
    my $site = $site{$p->{name}};
    ok $site, "a site for $p->{name}" or next;
    push @sites, grep { defined } $site->();
}

apt('remove', @debs);
for my $p (@packages) {
    ok !-e "$MODULES/$p->{so}", "$p->{so} removed";
    ok !-e "$AVAILABLE/$p->{conf}", "$p->{conf} removed";
    my @links = enabled($p);
    is scalar(@links), 0, "$p->{conf} disabled on removal";
}
stock_nginx_t_passes('after remove');

apt('purge', @debs);
for my $p (@packages) {
    ok !installed($p->{name}), "$p->{name} purged";
    my @left = grep { /mod-\Q$p->{suffix}\E\.conf/ } glob "$ENABLED/*";
    is "@left", '', "nothing of $p->{name} left in modules-enabled";
}
stock_nginx_t_passes('after purge');
for my $conf (@sites) {
    like output("nginx -t -c $conf"), qr/unknown directive/,
        "the site's configuration needs the purged module";
}

done_testing;

# The nginx ABI that the installed nginx binary's package provides.
sub nginx_abi {
    my ($owner) = output('dpkg-query -S /usr/sbin/nginx') =~ /^([^:]+):/;
    my $provides = output("dpkg-query -W -f '\${Provides}' $owner");
    my ($abi) = $provides =~ /(nginx-abi-[^\s,]+)/
        or BAIL_OUT("$owner provides no nginx-abi");
    return $abi;
}

# Names as dh_nginx derives them from a package name.
sub package_of {
    my ($deb) = @_;
    chomp(my $name = output("dpkg-deb -f $deb Package"));
    (my $suffix = $name) =~ s/^libnginx-mod-//
        or BAIL_OUT("$deb: $name is not a libnginx-mod-* package");
    (my $module = $suffix) =~ tr/-/_/;
    return { deb => $deb, name => $name, suffix => $suffix,
             so => "ngx_${module}_module.so", conf => "mod-$suffix.conf" };
}

# Its links in modules-enabled: NN-mod-SUFFIX.conf, NN its load order.
sub enabled {
    my ($p) = @_;
    return grep { -l } glob "$ENABLED/[0-9]*-$p->{conf}";
}

# least_time in a site of its own on loopback, the module loaded by the
# modules-enabled snippets as the stock nginx.conf loads them.  Returns the
# site's configuration.
sub http_site {
    my $nginx = own_site(1990, '', <<'HTTP') or return;
    upstream app {
        least_time header;
        server 127.0.0.1:1991;
        server 127.0.0.1:1992;
    }
    server { listen 127.0.0.1:1991; return 200 "1991\n"; }
    server { listen 127.0.0.1:1992; return 200 "1992\n"; }
    server {
        listen 127.0.0.1:1990;
        location / { proxy_pass http://app; }
        location = /upstreams { upstream_latency_status; }
    }
HTTP
    my $answer = HTTP::Tiny->new(timeout => 10)->get('http://127.0.0.1:1990/');
    like "$answer->{status} $answer->{content}", qr/^200 199[12]\n\z/,
        'a request proxied to a server of the upstream';
    balanced_once(1990, 'app', 'least_time header', 'requests');
    $nginx->stop;
    return $nginx->conf_path;
}

# The same for a stream upstream with least_time connect: a TCP connection
# through it to an http server; the status is the http module's.
sub stream_site {
    # waits for the status port: a connection to 1993 would be a session
    my $nginx = own_site(1990, <<'STREAM', <<'HTTP') or return;
    stream {
        upstream tcpapp {
            least_time connect;
            server 127.0.0.1:1991;
            server 127.0.0.1:1992;
        }
        server { listen 127.0.0.1:1993; proxy_pass tcpapp; }
    }
STREAM
    server { listen 127.0.0.1:1991; return 200 "1991\n"; }
    server { listen 127.0.0.1:1992; return 200 "1992\n"; }
    server {
        listen 127.0.0.1:1990;
        location = /upstreams { upstream_latency_status; }
    }
HTTP
    my $answer = HTTP::Tiny->new(timeout => 10, keep_alive => 0)
        ->get('http://127.0.0.1:1993/');
    like "$answer->{status} $answer->{content}", qr/^200 199[12]\n\z/,
        'a TCP connection proxied to a server of the stream upstream';
    balanced_once(1990, 'tcpapp', 'least_time connect', 'connections');
    $nginx->stop;
    return $nginx->conf_path;
}

# Our nginx with $main at the top level and $http in its http block,
# answering on $port, or undef (a failed test).
sub own_site {
    my ($port, $main, $http) = @_;
    my $nginx = eval {
        OwnNginx->start(port => $port, main => $main, http => $http,
                        modules => "include $ENABLED/*.conf;\n",
                        modules_dir => $MODULES) };
    ok $nginx, "a site using the module starts on $port" or diag $@;
    return $nginx;
}

# The status (http, on $port) shows the upstream $name, http or stream,
# balanced by $method, which passed it one request or connection ($count,
# the peers' field that counts them).
sub balanced_once {
    my ($port, $name, $method, $count) = @_;
    my $status = HTTP::Tiny->new(timeout => 10)
        ->get("http://127.0.0.1:$port/upstreams");
    my $json = eval { decode_json($status->{content}) } || {};
    my ($upstream) = grep { $_->{name} eq $name }
        @{ $json->{upstreams} || [] }, @{ $json->{stream}{upstreams} || [] };
    is $upstream && $upstream->{method}, $method,
        "the upstream is balanced by $method";
    is $upstream && sum(map { $_->{$count} } @{ $upstream->{peers} }), 1,
        'the balancer passed it the one ' . ($count =~ s/s$//r);
}

sub stock_nginx_t_passes {
    my ($when) = @_;
    my ($status, $out) = run('nginx -t');
    ok $status == 0, "nginx -t of the stock /etc/nginx passes $when"
        or diag $out;
}

sub apt {
    my ($action, @debs) = @_;
    my @what = $action eq 'install' ? @debs : map { $_->{name} } @packages;
    my ($status, $out) = run(
        "DEBIAN_FRONTEND=noninteractive apt-get $action -y -q"
        . " --no-install-recommends -o DPkg::Lock::Timeout=300 @what");
    ok $status == 0, "apt-get $action" or diag $out;
}

sub installed {
    return output("dpkg-query -W -f '\${Status}' $_[0]")
        =~ /install ok installed/;
}

# On failure, the packages this run installed are not left behind.
sub purge_leftovers {
    my @left = grep { installed($_) } map { $_->{name} } @packages;
    run("apt-get purge -y -q -o DPkg::Lock::Timeout=300 @left") if @left;
}

sub sum { my $total = 0; $total += $_ for @_; $total }

# Exit status and output (stdout and stderr) of a shell command.
sub run {
    my ($command) = @_;
    my $out = `$command 2>&1`;
    return ($? >> 8, $out);
}

sub output { (run(@_))[1] }

sub read_file {
    open my $fh, '<', shift or return '';
    local $/;
    return <$fh>;
}
