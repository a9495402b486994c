# An nginx of a test's own, outside Test::Nginx, for tests that act on its
# processes (kill a worker) or drive a browser.  Binary and modules come
# from TEST_NGINX_BINARY and TEST_NGINX_LOAD_MODULES, as with Test::Nginx.
package OwnNginx;

use strict;
use warnings;

use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(WNOHANG _exit);
use Time::HiRes qw(sleep);

# The reason this test cannot run, or undef.
sub missing {
    my @modules = split ' ', $ENV{TEST_NGINX_LOAD_MODULES} || '';
    for my $name (qw(ngx_http_upstream_latency_module ngx_http_echo_module)) {
        return "TEST_NGINX_LOAD_MODULES does not name $name"
            unless grep { m{/$name\.so$} } @modules;
    }
    return undef;
}

# Starts nginx (master and $workers workers, or with master => 0 a single
# process, in the foreground as our child) with $http as the body of its
# http block, and $main (a stream block, say) at the top level; waits until
# $port answers.  stop() fails a test for each [alert], [crit] or [emerg]
# line in the error log that does not match $args{expected_alerts} (a
# regexp).  The modules are loaded by $modules, main-context directives,
# or else from TEST_NGINX_LOAD_MODULES; with $modules_dir, load_module
# paths relative to the prefix's modules/ point into it, as with the stock
# prefix.
sub start {
    my ($class, %args) = @_;
    my $modules = $args{modules} // join '', map { "load_module $_;\n" }
                      split ' ', $ENV{TEST_NGINX_LOAD_MODULES} || '';
    my $self = bless { prefix => tempdir(CLEANUP => 1), pid => 0,
                       workers => $args{workers} || 1,
                       master => $args{master} // 1,
                       expected_alerts => $args{expected_alerts},
                       modules => $modules }, $class;
    my $prefix = $self->{prefix};
    mkdir "$prefix/$_" for qw(logs temp);
    symlink $args{modules_dir}, "$prefix/modules" if $args{modules_dir};
    $self->{main} = $args{main} // '';
    $self->write_conf($args{http});

    my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        { exec $nginx, '-p', "$prefix/", '-c', "$prefix/nginx.conf" }
        warn "exec $nginx: $!\n";
        _exit(127);
    }
    $self->{pid} = $pid;
    $self->wait_for_port($args{port}, 10)
        or die "nginx did not start:\n" . $self->error_log;
    return $self;
}

# Writes $prefix/nginx.conf with $http as the body of its http block.
sub write_conf {
    my ($self, $http) = @_;
    my $prefix = $self->{prefix};
    write_file("$prefix/nginx.conf", <<"CONF");
$self->{modules}
daemon off;
master_process @{[ $self->{master} ? 'on' : 'off' ]};
worker_processes $self->{workers};
error_log $prefix/logs/error.log info;
pid $prefix/logs/nginx.pid;

events { worker_connections 256; }

$self->{main}

http {
    access_log off;
    client_body_temp_path $prefix/temp/body;
    proxy_temp_path $prefix/temp/proxy;
    fastcgi_temp_path $prefix/temp/fastcgi;
    uwsgi_temp_path $prefix/temp/uwsgi;
    scgi_temp_path $prefix/temp/scgi;

$http
}
CONF
}

# Rewrites nginx.conf with $http and sends the master SIGHUP.  Returns true
# once new workers run and every old one is shutting down (it has closed
# its listening sockets, so new connections reach the new configuration)
# or gone; false after 10 s, as when nginx rejects the configuration.
sub reload {
    my ($self, $http) = @_;
    my %old = map { $_ => 1 } $self->worker_pids;
    $self->write_conf($http);
    kill HUP => $self->{pid} or return 0;
    for (1 .. 200) {
        sleep 0.05;
        my @pids = $self->worker_pids;
        my $new = grep { !$old{$_} } @pids;
        my $serving = grep { $old{$_} && read_file("/proc/$_/cmdline")
                                 =~ /^nginx: worker process\0*$/ } @pids;
        return 1 if $new >= $self->{workers} && !$serving;
    }
    return 0;
}

sub master_pid { $_[0]{pid} }

sub conf_path { "$_[0]{prefix}/nginx.conf" }

# Pids of the master's children (workers), from /proc.
sub worker_pids {
    my ($self) = @_;
    return children_of($self->{pid});
}

# Pids of the children of process $ppid, from /proc, in order.
sub children_of {
    my ($ppid) = @_;
    my @pids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $line = <$fh> // next;
        my ($pid, $parent) = $line =~ /^(\d+) \(.*\) \S+ (\d+)/ or next;
        push @pids, $pid if $parent == $ppid;
    }
    @pids = sort { $a <=> $b } @pids;
    return @pids;    # in scalar context, how many
}

# True once our nginx runs, has written its pid file (so it has bound every
# listening socket: a port another server holds makes it exit with a bind()
# error) and $port answers; false if it exited, or after $seconds.
sub wait_for_port {
    my ($self, $port, $seconds) = @_;
    for (1 .. $seconds * 10) {
        if (waitpid($self->{pid}, WNOHANG) == $self->{pid}) {
            $self->{pid} = 0;
            return 0;
        }
        return 1 if read_file("$self->{prefix}/logs/nginx.pid")
                        =~ /^$self->{pid}$/m
                    && IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port",
                                             Timeout => 1);
        sleep 0.1;
    }
    return 0;
}

sub error_log { read_file("$_[0]{prefix}/logs/error.log") }

# Stops nginx and checks its error log (one test).
sub stop {
    my ($self) = @_;
    $self->kill_nginx or return;
    my $expected = $self->{expected_alerts};
    my @alerts = grep { !($expected && /$expected/) }
                 $self->error_log =~ /^.*\[(?:alert|crit|emerg)\].*$/mg;
    Test::More::is(join("\n", @alerts), '',
                   'no unexpected [alert], [crit] or [emerg] in the error log');
}

# Stops nginx if it runs; false if it did not.
sub kill_nginx {
    my ($self) = @_;
    my $pid = $self->{pid} or return 0;
    $self->{pid} = 0;
    kill TERM => $pid;
    for (1 .. 100) {
        return 1 if waitpid($pid, WNOHANG) == $pid;
        sleep 0.1;
    }
    kill KILL => $pid;
    waitpid $pid, 0;
    return 1;
}

# A test that ends without stop() (it died, or forgot) does not check the
# log, and says so.
sub DESTROY {
    my ($self) = @_;
    warn "OwnNginx: stop() not called, error log not checked\n"
        if $self->kill_nginx;
}

sub read_file {
    open my $fh, '<', shift or return '';
    local $/;
    return <$fh>;
}

sub write_file {
    my ($path, $text) = @_;
    open my $fh, '>', $path or die "$path: $!";
    print $fh $text;
    close $fh or die "$path: $!";
}

1;
