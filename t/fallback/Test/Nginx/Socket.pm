package Test::Nginx::Socket;

# Minimal stand-in for openresty's Test::Nginx::Socket, used only when the
# real module is not installed (PERL5LIB=t/fallback).  It follows the
# documented interface of the upstream module: same data format (via
# Test::Base, which upstream is built on too), same sections, same
# generated nginx.conf layout, same environment variables and the same
# number of subtests per check.  Written from the documentation; see the
# POD at the end for what is (not) supported.

use strict;
use warnings;

# Test::Base parses __DATA__ into blocks, runs the section filters
# (eval, chomp, ...), handles --- ONLY/SKIP/LAST, takes the plan given on
# the "use" line and re-exports Test::More, exactly as for upstream.
use Test::Base -base;

use Errno qw(EAGAIN EWOULDBLOCK EINTR);
use File::Find ();
use File::Path qw(make_path remove_tree);
use File::Spec ();
use File::Temp ();
use IO::Select ();
use IO::Socket::INET ();
use List::Util qw(shuffle min);
use POSIX qw(WNOHANG);
use Scalar::Util qw(looks_like_number);
use Time::HiRes qw(sleep);

our @EXPORT = qw(
    env_to_nginx is_str plan run_tests run_test repeat_each config_preamble
    worker_connections master_process_enabled no_long_string workers
    master_on master_off log_level no_shuffle no_root_location use_hup
    server_name server_addr server_root html_dir server_port
    server_port_for_client timeout no_nginx_manager check_accum_error_log
    add_block_preprocessor bail_out add_cleanup_handler
    add_test_cleanup_handler add_response_body_check
);

# ---------------------------------------------------------------------------
# Settings (environment first, then the exported setter functions)

our $NginxBinary    = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $ServerAddr     = '127.0.0.1';
our $ServerName     = 'localhost';
our $ServerPort     = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerPortForClient = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our $Workers        = 1;
our $WorkerConnections = 64;
our $LogLevel       = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcessEnabled = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $RepeatEach     = 1;
our $NoShuffle      = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $NoRootLocation = 0;
our $NoLongString;
our $UseHup         = $ENV{TEST_NGINX_USE_HUP};
our $NoNginxManager = $ENV{TEST_NGINX_NO_NGINX_MANAGER} || 0;
our $Timeout        = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $TestNginxSleep = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $LoadModules    = $ENV{TEST_NGINX_LOAD_MODULES};
our $CheckAccumErrLog = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $PostponeOutput = $ENV{TEST_NGINX_POSTPONE_OUTPUT};
our $EventType      = $ENV{TEST_NGINX_EVENT_TYPE};
our $WorkerUser     = $ENV{TEST_NGINX_WORKER_USER};
our $ForceRestartOnTest = $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST} // 1;
our $Verbose        = $ENV{TEST_NGINX_VERBOSE};
our $ConfigPreamble = '';

our (@EnvToNginx, @BlockPreprocessors, @CleanupHandlers, @TestCleanupHandlers,
     @ResponseBodyChecks);

sub run_test ($);

# TEST_NGINX_RANDOMIZE (for prove -jN): a free server port and a server root
# of its own for this file, t/servroot_PORT, removed at the end.
our $Randomize = $ENV{TEST_NGINX_RANDOMIZE};
$ServerPort = $ServerPortForClient = free_port('TEST_NGINX_RANDOMIZE', {})
    if $Randomize;
our $ServRoot = $Randomize ? File::Spec->rel2abs("t/servroot_$ServerPort")
              : $ENV{TEST_NGINX_SERVROOT} || File::Spec->rel2abs('t/servroot');
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;
our $LogDir     = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $HtmlDir    = "$ServRoot/html";
our $ConfDir    = "$ServRoot/conf";
our $ConfFile   = "$ConfDir/nginx.conf";
our $PidFile    = "$LogDir/nginx.pid";

# Run-time state; $RandPorts: the block's $TEST_NGINX_RAND_PORT_N values.
our ($NginxVersion, $PrevConfig, $ConfigVersion, $RandPorts);
our $ErrLogFilePos = 0;
our $FirstTime = 1;
our $PrevBlock;    # the last block run: its nginx is the one to stop next

# Test files commonly read these as $Test::Nginx::Util::Xxx (where upstream
# keeps them), so alias them there.
for my $var (qw(NginxBinary ServerAddr ServerName ServerPort
                ServerPortForClient RepeatEach NoLongString UseHup ServRoot
                LogDir ErrLogFile AccLogFile HtmlDir ConfDir ConfFile PidFile
                NginxVersion Timeout RandPorts))
{
    no strict 'refs';
    *{"Test::Nginx::Util::$var"} = \${"Test::Nginx::Socket::$var"};
}

# ---------------------------------------------------------------------------
# Exported configuration functions (getter when called without arguments)

sub repeat_each (@)        { $RepeatEach = shift if @_; $RepeatEach }
sub workers (@)            { $Workers = shift if @_; $Workers }
sub worker_connections (@) { $WorkerConnections = shift if @_; $WorkerConnections }
sub log_level (@)          { $LogLevel = shift if @_; $LogLevel }
sub timeout (@)            { $Timeout = shift if @_; $Timeout }
sub server_name (@)        { $ServerName = shift if @_; $ServerName }
sub server_addr (@)        { $ServerAddr = shift if @_; $ServerAddr }
sub server_port (@)        { $ServerPort = shift if @_; $ServerPort }
sub server_port_for_client (@) {
    $ServerPortForClient = shift if @_;
    $ServerPortForClient;
}
sub master_on ()           { $MasterProcessEnabled = 'on' }
sub master_off ()          { $MasterProcessEnabled = 'off' }
sub master_process_enabled (@) {
    $MasterProcessEnabled = (shift() ? 'on' : 'off') if @_;
    $MasterProcessEnabled;
}
sub no_shuffle ()          { $NoShuffle = 1 }
sub no_root_location ()    { $NoRootLocation = 1 }
sub no_long_string ()      { $NoLongString = 1 }
sub use_hup ()             { $UseHup = 1 }
sub no_nginx_manager ()    { $NoNginxManager = 1 }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub config_preamble ($)    { $ConfigPreamble = shift }
sub html_dir ()            { $HtmlDir }
sub server_root ()         { $ServRoot }

sub env_to_nginx (@) {
    croak("env_to_nginx: no arguments specified") unless @_;
    for my $v (@_) {
        croak("env_to_nginx: bad argument value: $v\n")
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

# Later-added preprocessors run first, as upstream.
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_cleanup_handler ($)    { unshift @CleanupHandlers, shift }
# called with each block after it has run
sub add_test_cleanup_handler ($) { unshift @TestCleanupHandlers, shift }
sub add_response_body_check ($) { push @ResponseBodyChecks, shift }

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(@_);
}

# String comparison honouring a Regexp as the expected value.
sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    return Test::More::like($got, $expected, $desc)
        if ref $expected && ref $expected eq 'Regexp';
    return is($got, $expected, $desc);
}

# ---------------------------------------------------------------------------
# Small helpers

sub cleanup {
    $_->() for @CleanupHandlers;
}

# Test::Builder would complain about the plan after an irregular failure
# (as upstream, switch that off: the failure itself is reported).
sub no_ending { Test::More->builder->no_ending(1) }

sub parse_time {
    my $t = shift;
    return undef unless defined $t;
    return $1 / 1000 if $t =~ /^\s*([\d.]+)\s*ms\s*$/;
    return $1 if $t =~ /^\s*([\d.]+)\s*s?\s*$/;
    return $t;
}

# One line for a test description.
sub fmt_str {
    my $s = shift;
    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

sub canon_version { sprintf "%d.%03d%03d", @_[0 .. 2] }

sub nginx_version {
    my $out = `$NginxBinary -V 2>&1`;
    bail_out("Failed to get the version of the Nginx in PATH: " . ($out // ''))
        if !defined $out || $? != 0;
    return canon_version($1, $2, $3)
        if $out =~ m{(?:nginx|openresty)[^/]*/(\d+)\.(\d+)\.(\d+)}s
        || $out =~ m{\w+/(\d+)\.(\d+)\.(\d+)}s;
    bail_out("Failed to parse the output of \"nginx -V\": $out\n");
}

# Expected values of a multi-request block must be arrays (one per request).
sub indexed_value {
    my ($name, $value, $idx, $need_array) = @_;
    if (ref $value && ref $value eq 'ARRAY') {
        return $value->[$need_array ? $idx : 0];
    }
    bail_out("$name - You asked for many requests, the expected results "
             . "should be arrays as well.") if $need_array;
    return $value;
}

# Replace $TEST_NGINX_XXX by the environment value (or by a free port for
# $TEST_NGINX_RAND_PORT_N).
sub expand_env {
    my ($text, $name, $rand_ports) = @_;
    return $text unless defined $text;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        if ($var =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
            $rand_ports->{$var} //= free_port($name, $rand_ports);
        } else {
            bail_out("$name - No environment $var defined.\n")
                unless defined $ENV{$var};
            $ENV{$var};
        }
    }ge;
    return $text;
}

sub free_port {
    my ($name, $taken) = @_;
    my %used = ($ServerPort => 1, map { $_ => 1 } grep { defined } values %$taken);
    for (1 .. 1000) {
        my $port = 1988 + int rand(65535 - 1988);
        next if $used{$port};
        my $s = IO::Socket::INET->new(LocalAddr => $ServerAddr,
                                      LocalPort => $port, Proto => 'tcp',
                                      Listen => 1);
        next unless $s;
        close $s;
        return $port;
    }
    bail_out("$name - Cannot find an available listening port number.\n");
}

# Lines of a log file; for error.log only those written since the last check
# unless check_accum_error_log() was called.
sub log_lines {
    my ($file, $incremental) = @_;
    sleep $TestNginxSleep * 3;    # let nginx finish its log-phase writes
    open my $in, '<', $file or return [];
    seek $in, $ErrLogFilePos, 0 if $incremental && $ErrLogFilePos > 0;
    my @lines = <$in>;
    $ErrLogFilePos = tell $in if $incremental;
    close $in;
    return \@lines;
}

sub error_log_lines { log_lines($ErrLogFile, !$CheckAccumErrLog) }

# ---------------------------------------------------------------------------
# Main loop

# Upstream's sections and testing modes that this runner does not
# implement: rather than pass a block with the section ignored (its checks
# or its TCP/UDP server missing), or run a whole file outside the mode asked
# for (under valgrind, over HTTP/2...), it stops the run.
our @UnsupportedSections = qw(
    http2 http3 curl curl_protocol curl_options curl_error charset
    response_body_json_sort skip_openssl todo_nginx post_setup_server_root
    write_resp_body_file stap stap_out stap_out_like stap_out_unlike
    tcp_listen tcp_reply tcp_reply_delay tcp_query tcp_query_len
    tcp_query_auto_timeout tcp_no_close tcp_shutdown tcp_shutdown_delay
    udp_listen udp_reply udp_reply_delay udp_query
);
our @UnsupportedModes = qw(
    TEST_NGINX_USE_HTTP2 TEST_NGINX_USE_HTTP3 TEST_NGINX_USE_VALGRIND
    TEST_NGINX_USE_STAP TEST_NGINX_USE_RR TEST_NGINX_CHECK_LEAK
    TEST_NGINX_BENCHMARK
);

sub check_supported {
    my $block = shift;
    my @unsupported = grep { defined $block->$_ } @UnsupportedSections;
    # skip_slave only counts on a build slave, as upstream
    push @unsupported, 'skip_slave'
        if defined $block->skip_slave && defined $ENV{TEST_NGINX_BUILDSLAVE};
    bail_out($block->name . " - --- $unsupported[0] is not supported by "
             . "the fallback Test::Nginx::Socket (t/fallback); install "
             . "Test::Nginx from CPAN") if @unsupported;
}

sub run_tests () {
    for my $mode (@UnsupportedModes) {
        bail_out("$mode is not supported by the fallback "
                 . "Test::Nginx::Socket (t/fallback); install Test::Nginx "
                 . "from CPAN") if $ENV{$mode};
    }
    $NginxVersion = nginx_version();
    $ENV{TEST_NGINX_SERVER_PORT} //= $ServerPort;

    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks unless $NoShuffle;
    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value(name => "$0 " . $block->name);
        run_test($block);
        $_->($block) for @TestCleanupHandlers;
        $PrevBlock = $block;
    }
    cleanup();
}

sub run_test ($) {
    my $block = shift;
    return if defined $block->SKIP;
    check_supported($block);

    my $name = $block->name;
    my $first_time = $FirstTime;
    $FirstTime = 0;

    my %rand_ports;
    $RandPorts = \%rand_ports;
    my $config = expand_env(scalar $block->config, $name, \%rand_ports);

    local $LogLevel = $block->log_level || $LogLevel;
    my $must_die = $block->must_die;
    local $UseHup = defined $must_die ? undef : $UseHup;

    my ($skip_count, $skip_reason) = skip_spec($block);
    my ($todo_count, $todo_reason);
    if (defined(my $todo = $block->todo)) {
        ($todo_count, $todo_reason) = $todo =~ /^\s*(\d+)\s*:\s*(.*)/s
            or bail_out("$name - Invalid --- todo spec: $todo");
    }

    # A block without --- config keeps using the running server as it is.
    my $start = 0;
    if (!defined $config) {
        bail_out("$name - No '--- config' section specified and could not "
                 . "get previous one. Use TEST_NGINX_NO_NGINX_MANAGER ?")
            if !$NoNginxManager && !defined $PrevConfig;
    } elsif ($NoNginxManager) {
        Test::More::diag("NO_NGINX_MANAGER activated: config for $name ignored");
    } else {
        $start = $ForceRestartOnTest || !defined $PrevConfig
                 || $config ne $PrevConfig;
    }

    if ($start && !defined $skip_count) {
        $PrevConfig = $config;
        if (defined $must_die) {
            run_must_die($block, $config, \%rand_ports, $must_die);
            return;
        }
        start_nginx($block, $config, \%rand_ports, $first_time);
    }

    if (defined $block->init) {
        eval $block->init;
        bail_out("$name - init failed: $@") if $@;
    }

    $ErrLogFilePos = 0;
    for my $i (0 .. $RepeatEach - 1) {
        write_user_files($block, \%rand_ports) if $i > 0;
        if (defined $skip_count) {
            SKIP: { Test::More::skip("$name - $skip_reason", $skip_count) }
        } elsif (defined $todo_count) {
            TODO: { Test::More::todo_skip("$name - $todo_reason", $todo_count) }
        } else {
            run_requests($block, $i);
        }
    }

    if (my $total = $ENV{TEST_NGINX_ERROR_LOG}) {
        if (-s $ErrLogFile && open my $out, '>>', $total) {
            open my $in, '<', $ErrLogFile;
            print $out "\n=== $0 $name\n", <$in>;
        }
    }
}

# --- skip_eval / skip_nginx / skip_nginx2: returns (count, reason) if the
# block's subtests must be skipped.
sub skip_spec {
    my $block = shift;
    my $name = $block->name;
    my %cmp = ('<' => sub { $_[0] < $_[1] }, '<=' => sub { $_[0] <= $_[1] },
               '>' => sub { $_[0] > $_[1] }, '>=' => sub { $_[0] >= $_[1] });
    my $ver_re = qr/([<>]=?)\s*(\d+)\.(\d+)\.(\d+)/;
    my ($count, $skip, $reason);

    if (defined(my $spec = $block->skip_eval)) {
        if ($spec =~ /^\s*(\d+)\s*:\s*(.*)/s) {
            my $code;
            ($count, $code, $reason) = ($1, $2, 'skip_eval');
            $skip = eval $code;
            bail_out("$name - skip_eval - failed to eval the Perl code "
                     . "\"$code\": $@") if $@;
        }
    }

    if (defined(my $spec = $block->skip_nginx)) {
        $spec =~ /^\s*(\d+)\s*:\s*$ver_re(?:\s*:\s*(.*))?\s*$/
            or bail_out("$name - Invalid --- skip_nginx spec: $spec");
        $count = $1;
        $reason = $6 || "nginx version $2 $3.$4.$5";
        $skip = 1 if $cmp{$2}->($NginxVersion, canon_version($3, $4, $5));
    } elsif (defined(my $spec2 = $block->skip_nginx2)) {
        $spec2 =~ /^\s*(\d+)\s*:\s*$ver_re\s*(or|and)\s*$ver_re(?:\s*:\s*(.*))?\s*$/
            or bail_out("$name - Invalid --- skip_nginx2 spec: $spec2");
        $count = $1;
        $reason = $11;
        my $first = $cmp{$2}->($NginxVersion, canon_version($3, $4, $5));
        my $second = $cmp{$7}->($NginxVersion, canon_version($8, $9, $10));
        $skip = 1 if $6 eq 'or' ? ($first || $second) : ($first && $second);
    }

    return unless $skip && defined $count;
    return ($count, $reason // 'various reasons');
}

# ---------------------------------------------------------------------------
# Server root and nginx.conf

sub setup_server_root {
    my $full = shift;    # false: HUP reload, keep the pid file and sockets

    if (-d $ServRoot) {
        remove_tree($ConfDir, glob("$ServRoot/*_cache"), glob("$ServRoot/*_temp"));
        if ($full) {
            remove_tree($HtmlDir, $LogDir);
            # Refuse to wipe a directory we did not create (bad SERVROOT).
            rmdir $ServRoot
                or bail_out("Can't remove $ServRoot (not empty?): $!");
        } else {
            my @files;
            File::Find::find({ no_chdir => 1, wanted => sub {
                push @files, $_ if !-d $_
                    && !/(?:\bnginx\.pid|\.sock|\.crt|\.key)$/;
            } }, $ServRoot);
            unlink @files;
        }
    }

    for my $dir ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        next if -d $dir;
        mkdir $dir or bail_out("Failed to do mkdir $dir: $!\n");
    }

    open my $out, '>', "$HtmlDir/index.html"
        or bail_out("Can't open $HtmlDir/index.html for writing: $!\n");
    print $out '<html><head><title>It works!</title></head>'
               . '<body>It works!</body></html>';
    close $out;
}

# --- user_files: ">>> name [mtime]" headed text, or eval'd
# [[name, body, mtime], ...].
sub write_user_files {
    my ($block, $rand_ports) = @_;
    my $name = $block->name;
    my $files = $block->user_files or return;

    if (!ref $files) {
        my @list;
        for my $line (split /^/m, $files) {
            if ($line =~ /^>>> (\S+)(?:\s+(.+))?/) {
                push @list, [$1, undef, $2];
            } elsif (@list) {
                $list[-1][1] .= $line;
            }
        }
        $files = \@list;
    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - wrong value type: " . ref($files)
                 . ", only scalar or ARRAY are accepted");
    }

    for my $file (@$files) {
        my ($fname, $body, $date) = @$file;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        if ($path =~ m{(.*)/} && !-d $1) {
            make_path($1) or bail_out("$name - Cannot create directory $1");
        }
        $body = expand_env($body // '', $name, $rand_ports);
        open my $out, '>', $path
            or bail_out("$name - Cannot open $path for writing: $!\n");
        binmode $out;
        print $out $body;
        close $out;
        if ($date) {
            chomp $date;
            local $ENV{TZ} = 'GMT';
            system('touch', '-t', $date, $path) == 0
                or bail_out("$name - Failed to run touch -t $date $path\n");
        }
    }
}

sub write_config_file {
    my ($block, $config, $rand_ports) = @_;
    my $name = $block->name;

    master_on() if $UseHup;    # reloading needs a master process

    my $http_config = expand_env($block->http_config // '', $name, $rand_ports);
    my $main_config = $block->main_config // '';
    if ($LoadModules) {
        # before main_config, as upstream: its blocks (stream) may need them
        $main_config = join('', map { "load_module $_;\n" }
                                grep { length } split /\s+/, $LoadModules)
                       . $main_config;
    }
    $main_config = expand_env($main_config, $name, $rand_ports);
    my $post_main_config =
        expand_env($block->post_main_config // '', $name, $rand_ports);

    my $err_log_file = $block->error_log_file || $ErrLogFile;
    (my $server_name = $block->server_name // $ServerName) =~ s/(['\\])/\\$1/g;
    my $listen = $ServerPort . ($ENV{TEST_NGINX_REUSE_PORT} ? ' reuseport' : '');
    $config //= '';

    my $env = join '', map { my $v = /\s/ ? "'$_'" : $_; "env $v;\n" } @EnvToNginx;

    my $extra_http = '';
    if (defined $PostponeOutput && $http_config !~ /\bpostpone_output\b/) {
        bail_out("Bad TEST_NGINX_POSTPONE_OUTPUT value: $PostponeOutput\n")
            if $PostponeOutput !~ /^\d+$/;
        $extra_http = "    postpone_output $PostponeOutput;\n";
    }

    my $root_location = $NoRootLocation ? '' : <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_

    # A second virtual server answers /ver with the config version so that a
    # HUP reload can be waited for.
    my $version_server = !$UseHup ? '' : <<"_EOC_";
    server {
        listen          $listen;
        server_name     'Test-Nginx';

        location = /ver {
            return 200 '$ConfigVersion';
        }
    }
_EOC_

    # nginx's temporary files in the server root, as upstream (not the
    # built-in paths, /var/lib/nginx/... on Debian, that only root may
    # write): those that http_config sets itself excepted (upstream checks
    # proxy_temp_path and client_body_temp_path only), and those of the
    # modules nginx was built without.
    my $nginx_V = `$NginxBinary -V 2>&1` // '';
    my $temp_paths = join ' ', map { "${_}_temp_path $ServRoot/${_}_temp;" }
        grep { !($_ eq 'proxy' || $_ eq 'client_body')
                   || $http_config !~ /\b${_}_temp_path\b/ }
        grep { $nginx_V !~ /--without-http_${_}_module/ }
        qw(client_body proxy fastcgi scgi uwsgi);

    my $events_use = $EventType ? "    use $EventType;\n" : '';
    my $user = defined $WorkerUser ? "user $WorkerUser;\n"
             : $> == 0             ? "user root;\n"
             :                       '';

    open my $out, '>', $ConfFile
        or bail_out("Can't open $ConfFile for writing: $!\n");
    print $out <<"_EOC_";
worker_processes  $Workers;
daemon on;
master_process $MasterProcessEnabled;
error_log $err_log_file $LogLevel;
pid       $PidFile;
env MOCKEAGAIN_VERBOSE;
env MOCKEAGAIN;
env MOCKEAGAIN_WRITE_TIMEOUT_PATTERN;
env LD_PRELOAD;
env LD_LIBRARY_PATH;
env DYLD_INSERT_LIBRARIES;
env DYLD_FORCE_FLAT_NAMESPACE;
$env
$main_config

http {
    access_log $AccLogFile;
    $temp_paths

    default_type text/plain;
    keepalive_timeout  68;
$extra_http
$http_config

    server {
        listen          $listen;
        server_name     '$server_name';

        client_max_body_size 30M;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }

$version_server}

$post_main_config

events {
    accept_mutex off;

    worker_connections  $WorkerConnections;
$events_use}
env ASAN_OPTIONS;
env MOCKNOEAGAIN_VERBOSE;
env MOCKNOEAGAIN;
$user
_EOC_
    close $out;
}

# ---------------------------------------------------------------------------
# nginx process control

# A process that has exited but not yet been reaped (the daemon's parent
# is init, which may be slow to reap) counts as gone.
sub is_running {
    my $pid = shift;
    return 0 unless kill 0, $pid;
    open my $fh, '<', "/proc/$pid/stat" or return 1;
    return (<$fh> // '') !~ /^\d+ \(.*\) Z/s;
}

# Pid of the running nginx master, or undef (a stale pid file is removed).
sub running_pid {
    open my $in, '<', $PidFile or return undef;
    my $pid = <$in>;
    close $in;
    if (defined $pid && $pid =~ /^\s*(\d+)/ && is_running($1)) {
        return $1;
    }
    unlink $PidFile;
    return undef;
}

# QUIT, then TERM, then KILL; finally kill leftovers of nginx's process
# group (the daemonized master leads its own group, the workers are in it).
sub stop_nginx {
    my ($pid, $name) = @_;
    my $group = getpgrp($pid) == $pid;
    my $wait = sub {
        my $t = shift;
        while ($t > 0 && is_running($pid)) {
            waitpid($pid, WNOHANG);
            sleep 0.01;
            $t -= 0.01;
        }
        return !is_running($pid);
    };

    kill QUIT => $pid;
    unless ($wait->($Timeout)) {
        warn "$name - timeout when waiting for the process $pid to exit\n";
        kill TERM => $pid;
        unless ($wait->(1)) {
            warn "$name - WARNING: killing the process $pid with force...\n";
            kill KILL => ($group ? -$pid : $pid);
            $wait->(1);
        }
    }
    kill KILL => -$pid if $group && kill 0, -$pid;
    unlink $PidFile;
}

# Runs the nginx command line once; returns (wait status, stderr text).
# nginx 1.19.5 and later take -e, the error log used until the
# configuration's own is open: upstream points it at the block's error.log,
# so that what nginx logs while it reads the configuration (a [warn], an
# [emerg] of --- must_die) is there, not in nginx's built-in error log.
sub early_error_log { $NginxVersion >= 1.019005 }

sub exec_nginx {
    my $err = File::Temp->new;
    my $cmd = "$NginxBinary " . (early_error_log() ? "-e $ErrLogFile " : '')
              . "-p $ServRoot/ -c $ConfFile";
    warn "running $cmd\n" if $Verbose;
    system("$cmd > /dev/null 2> " . $err->filename);
    my $status = $?;
    my $stderr = '';
    if (open my $in, '<', $err->filename) {
        local $/;
        $stderr = <$in> // '';
    }
    return ($status, $stderr, $cmd);
}

sub start_nginx {
    my ($block, $config, $rand_ports, $first_time) = @_;
    my $name = $block->name;

    $ConfigVersion = join '', map { ('a' .. 'z', 0 .. 9)[rand 36] } 1 .. 10
        if $UseHup;

    my $pid = running_pid();

    # HUP mode: load the new config into the running master.
    if ($pid && $UseHup && !$first_time) {
        setup_server_root(0);
        write_user_files($block, $rand_ports);
        write_config_file($block, $config, $rand_ports);
        warn "reloading nginx $pid\n" if $Verbose;
        kill USR1 => $pid;    # reopen the log files we just removed
        sleep $TestNginxSleep;
        my @old_workers = children_of($pid);
        kill HUP => $pid;
        sleep $TestNginxSleep * 3;
        if (defined $block->reload_fails) {
            sleep 0.3;
        } else {
            wait_for_config_version($name);
            wait_until_not_listening(@old_workers);
        }
        check_shutdown_error_log(1);
        return;
    }

    stop_nginx($pid, $name) if $pid;
    check_shutdown_error_log();

    setup_server_root(1);
    write_user_files($block, $rand_ports);
    write_config_file($block, $config, $rand_ports);

    my $waited = 0;
    while (1) {
        my ($status, $stderr, $cmd) = exec_nginx();
        print STDERR $stderr if length $stderr;
        last if $status == 0;
        # The port may still be held by a server that is shutting down.
        if ($stderr =~ /Address already in use/ && $waited < 10) {
            sleep 0.5;
            $waited += 0.5;
            next;
        }
        bail_out("$name - Cannot start nginx using command \"$cmd\" "
                 . "(status code $status): $stderr");
    }
    sleep $TestNginxSleep;
}

# --- must_die: nginx must fail to start (with the given exit code, if any).
# Its stderr output is appended to error.log so that --- error_log can
# match the start-up error whatever default error log nginx was built with.
sub run_must_die {
    my ($block, $config, $rand_ports, $must_die) = @_;
    my $name = $block->name;

    stop_nginx(running_pid(), $name) if running_pid();
    check_shutdown_error_log();
    setup_server_root(1);
    write_user_files($block, $rand_ports);
    write_config_file($block, $config, $rand_ports);

    $ErrLogFilePos = 0;
    for my $i (0 .. $RepeatEach - 1) {
        my ($status, $stderr) = exec_nginx();
        # With -e nginx has logged its errors in error.log itself; an older
        # one only printed them.
        print STDERR $stderr if length $stderr && early_error_log();
        if (length $stderr && !early_error_log()
            && open my $log, '>>', $ErrLogFile)
        {
            print $log $stderr;
            close $log;
        }

        my ($exit_code, $coredump) = ($status >> 8, $status & 128);
        # Through the shell, nginx killed by signal N exits with 128 + N:
        # counted as a core dump, as upstream does.
        if ($status > (128 << 8)) {
            ($exit_code, $coredump) = ($exit_code >> 8, $exit_code & 128);
        }
        if ($status == -1) {
            Test::More::fail("$name - failed to execute the nginx command line");
        } elsif ($coredump) {
            Test::More::fail("$name - nginx core dumped");
        } elsif (looks_like_number($must_die)) {
            Test::More::is($must_die, $exit_code,
                           "$name - die with the expected exit code");
        } else {
            Test::More::isnt($status, 0, "$name - die as expected");
        }

        check_error_log($block, undef, $i);

        if ($status == 0) {
            warn "WARNING: $name - nginx must die but it does not; "
                 . "killing it (req $i)\n";
            for (1 .. 15) { last if -f $PidFile; sleep $TestNginxSleep }
            my $pid = running_pid();
            stop_nginx($pid, $name) if $pid;
        }
    }
}

# HUP mode: wait until the new configuration answers consistently (old
# workers may still serve a few connections).
sub wait_for_config_version {
    my $name = shift;
    my $good = 0;
    for my $try (1 .. 200) {
        my $ver = get_config_version();
        if (defined $ver && $ver eq $ConfigVersion) {
            $good++;
            sleep $TestNginxSleep if $good == 5;
            return if $good >= 20;
            next;
        }
        $good = 0;
        # error.log was recreated just before the reload: an [emerg] in it
        # means the new configuration was rejected.
        if (my ($emerg) = grep { /\[emerg\]/ } @{ log_lines($ErrLogFile, 0) }) {
            no_ending();
            Test::More::fail("$name - failed to reload the configuration: $emerg");
            return;
        }
        my $wait = min(1, ($TestNginxSleep + $TestNginxSleep * $try) * $try / 2);
        warn "$name - waiting $wait sec for nginx to reload the configuration\n"
            if $wait > 0.5;
        sleep $wait;
    }
    no_ending();
    Test::More::fail("$name - failed to reload configuration after 200 "
                     . "failed test requests");
}

# Pids of the processes whose parent is $ppid, from /proc.
sub children_of {
    my $ppid = shift;
    my @pids;
    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $in, '<', $stat or next;
        my $line = <$in> // next;
        push @pids, $1 if $line =~ /^(\d+) \(.*\) \S+ (\d+)/ && $2 == $ppid;
    }
    return @pids;
}

# HUP mode: an old worker may still accept connections until it handles
# the master's QUIT on a busy machine; wait until each is shutting down
# (it has closed its listening sockets) or gone.
sub wait_until_not_listening {
    my @pids = @_;
    for (1 .. 200) {
        my @serving = grep {
            my $cmd = '';
            if (open my $in, '<', "/proc/$_/cmdline") {
                local $/;
                $cmd = <$in> // '';
            }
            $cmd =~ /^nginx: worker process\0*$/;
        } @pids;
        return unless @serving;
        sleep 0.05;
    }
}

sub get_config_version {
    my $sock = IO::Socket::INET->new(PeerAddr => $ServerAddr,
                                     PeerPort => $ServerPort,
                                     Proto => 'tcp', Timeout => 2)
        or return undef;
    my $resp = eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm 3;
        print $sock "GET /ver HTTP/1.0\r\nHost: Test-Nginx\r\n\r\n";
        local $/;
        my $r = <$sock>;
        alarm 0;
        $r;
    } // '';
    alarm 0;
    close $sock;
    return $resp =~ /\A\S+ 200 .*?\r\n\r\n(.*)\z/s ? $1 : undef;
}

END {
    my $status = $?;
    cleanup();
    if (!$ENV{TEST_NGINX_NO_CLEAN} && !$NoNginxManager && defined $PidFile) {
        my $pid = running_pid();
        stop_nginx($pid, 'END') if $pid;
        check_shutdown_error_log();
        remove_tree($ServRoot) if $Randomize && $ServRoot =~ m{/t/servroot_\d+$};
    } else {
        check_shutdown_error_log(1);
    }
    $? = $status;
}

# ---------------------------------------------------------------------------
# Building requests

# --- more_headers text -> ("Key: value\r\n"..., is_chunked)
sub parse_more_headers {
    my $in = shift // '';
    my ($out, $chunked) = ('', 0);
    for my $line (split /\n+/, $in) {
        next if $line =~ /^\s*#/;
        my ($key, $val) = split /:\s*/, $line, 2;
        $val //= '';
        $chunked = 1 if lc($key) eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $chunked);
}

# Turns "METHOD [URI [VERSION]]\nbody" (possibly split into packets) into a
# full HTTP request with Host, Connection and Content-Length headers.
# Returns the packets of the new request, split at the corresponding places.
sub make_request {
    my ($name, $more_headers, $conn, $packets) = @_;
    my ($hdrs, $chunked) = parse_more_headers($more_headers);

    my $orig = join '', map { $_->{value} } @$packets;
    my ($line, $nl, $body) = $orig =~ /\A([^\n]*)(\n?)(.*)\z/s;
    bail_out("$name - Request line should be non-empty") unless $line =~ /\S/;
    my @tok = split ' ', $line;
    bail_out("$name - Request line is not valid. Should be 'meth [url "
             . "[version]]' but got \"$line\".") if @tok > 3;
    my ($meth, $uri, $ver) = @tok;
    my $reqline = join ' ', $meth, $uri // '/', $ver // 'HTTP/1.1';

    my ($len_hdr, $trimmed) = ('', 0);
    if (!$chunked && length $body && $hdrs !~ /(?:^|\n)Content-Length:/) {
        $body =~ s/\A(\s*)//;
        $trimmed = length $1;
        $body =~ s/\s+\z//;
        $len_hdr = "Content-Length: " . length($body) . "\r\n";
    }

    my $head = "$reqline\r\n";
    $head .= "Host: $ServerName\r\n" if $hdrs !~ /(?:^|\n)Host:/i;
    $head .= "Connection: $conn\r\n" if $hdrs !~ /(?:^|\n)Connection/i;
    $head .= "$hdrs$len_hdr\r\n";
    my $req = $head . $body;

    # Map every original packet boundary into the new request.
    my ($pos, $prev, @out) = (0, 0);
    my $orig_head = length($line) + length($nl);
    for my $i (0 .. $#$packets) {
        $pos += length $packets->[$i]{value};
        my $cut;
        if ($i == $#$packets) {
            $cut = length $req;
        } elsif ($pos < $orig_head) {
            $cut = min($pos, length $reqline);
        } else {
            my $off = min(length $body, ($pos - $orig_head - $trimmed) > 0
                                         ? $pos - $orig_head - $trimmed : 0);
            $cut = length($head) + $off;
        }
        $cut = $prev if $cut < $prev;
        push @out, { %{ $packets->[$i] }, value => substr($req, $prev, $cut - $prev) };
        $prev = $cut;
    }
    return \@out;
}

# All the requests of a block: a list of connections, each a list of
# packets ({ value => ..., delay_before => ... }).
sub build_requests {
    my $block = shift;
    my $name = $block->name;
    my $packets = sub { [ map { ref $_ eq 'HASH' ? {%$_} : { value => $_ } } @_ ] };

    if (defined(my $raw = $block->raw_request)) {
        return [ $packets->(ref $raw eq 'ARRAY' ? @$raw : $raw) ];
    }

    my $more = $block->more_headers // '';
    my $headers_for = sub {
        my $i = shift;
        return $more unless ref $more eq 'ARRAY';
        my $h = $more->[$i];
        bail_out("$name - --- more_headers lacks data for the request $i")
            unless defined $h;
        return $h;
    };

    if (my $reqs = $block->pipelined_requests) {
        bail_out("$name - invalid entries in --- pipelined_requests")
            unless ref $reqs eq 'ARRAY';
        my $all = '';
        for my $i (0 .. $#$reqs) {
            my $conn = $i == $#$reqs ? 'close' : 'keep-alive';
            my $r = make_request($name, $headers_for->($i), $conn,
                                 $packets->($reqs->[$i]));
            $all .= join '', map { $_->{value} } @$r;
        }
        return [ [ { value => $all } ] ];
    }

    my $request = $block->request;
    if (!defined $request && defined $block->request_eval) {
        $request = eval $block->request_eval;    # deprecated form
        warn $@ if $@;
    }
    bail_out("$name - request empty") unless defined $request;

    if (!ref $request) {
        1 while $request =~ s/^\s*#[^\n]+\s+|^\s+//gs;    # leading comments
        return [ make_request($name, $headers_for->(0), 'close',
                              $packets->($request)) ];
    }
    bail_out("$name - invalid ---request : MUST be string or array of requests")
        unless ref $request eq 'ARRAY';

    my @list;
    for my $i (0 .. $#$request) {
        my $one = $request->[$i];
        bail_out("$name - Invalid syntax. $one should be a string or an "
                 . "array of packets.") if ref $one && ref $one ne 'ARRAY';
        push @list, make_request($name, $headers_for->($i), 'close',
                                 $packets->(ref $one ? @$one : $one));
    }
    return \@list;
}

# ---------------------------------------------------------------------------
# Talking to nginx

# Sends one connection's packets and reads until the server closes it.
sub send_request {
    my ($block, $packets, $timeout) = @_;
    my $name = $block->name;
    my $addr = $block->server_addr_for_client // $ServerAddr;

    my $sock;
    for my $try (1 .. 20) {
        $sock = IO::Socket::INET->new(PeerAddr => $addr,
                                      PeerPort => $ServerPortForClient,
                                      Proto => 'tcp', Timeout => $timeout);
        last if $sock;
        my $err = $!;
        # Give up at once if the server is gone (not while it writes its
        # pid file just after starting).
        if ($try == 20 || ($try >= 3 && !$NoNginxManager && !running_pid())) {
            no_ending();
            my $why = running_pid() || $NoNginxManager ? '' : ' (nginx is not running)';
            Test::More::fail("$name - Can't connect to $addr:"
                             . "$ServerPortForClient: $err$why (aborted)\n");
            return ('', 0);
        }
        my $wait = min(1, ($TestNginxSleep + $TestNginxSleep * $try) * $try / 2);
        warn "$name - Can't connect to $addr:$ServerPortForClient: $err\n"
             . "\tRetry connecting after $wait sec\n" if $wait >= 0.6;
        sleep $wait;
    }
    $sock->blocking(0);
    local $SIG{PIPE} = 'IGNORE';

    my @todo = @$packets;
    my $head_req = join('', map { $_->{value} } @todo) =~ /^\s*HEAD\s+/ ? 1 : 0;
    my $middle_delay = $block->raw_request_middle_delay;
    my ($buf, $off) = ((shift @todo)->{value}, 0);
    my $resp = '';
    my $writing = 1;
    my $sel = IO::Select->new($sock);

    while (1) {
        my ($r, $w) = IO::Select->select($sel, $writing ? $sel : undef, undef,
                                         $timeout);
        if (!$r && !$w) {
            if (!defined $block->abort) {
                no_ending();
                Test::More::fail("ERROR: client socket timed out - $name\n");
            }
            last;
        }

        if ($w && @$w) {
            my $n = syswrite $sock, $buf, length($buf) - $off, $off;
            if (!defined $n) {
                if ($! != EAGAIN && $! != EWOULDBLOCK && $! != EINTR) {
                    warn "write failed: $!\n";
                    $resp = "write failed: $!" unless length $resp;
                    $writing = 0;
                }
            } elsif (($off += $n) >= length $buf) {
                if (my $next = shift @todo) {
                    my $delay = $next->{delay_before} // $middle_delay;
                    sleep $delay if $delay;
                    ($buf, $off) = ($next->{value}, 0);
                } else {
                    $writing = 0;
                    if (defined(my $how = $block->shutdown)) {
                        shutdown $sock, ($how =~ /^\s*$/ ? 1 : $how);
                    }
                }
            }
        }

        if ($r && @$r) {
            my $n = sysread $sock, my $chunk, 8192;
            if (!defined $n) {
                next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
                warn "WARNING: $name - HTTP response read failure: $!\n";
                last;
            }
            last if $n == 0;
            $resp .= $chunk;
        }
    }
    close $sock;
    return ($resp, $head_req);
}

# Parses one response off the front of $raw.  Returns (response object or
# undef, raw header text, bytes left over for a following response).
sub parse_response {
    my ($name, $raw, $head_req) = @_;
    my $raw_headers = $raw =~ /(.*?\r\n)\r\n/s ? $1 : '';

    my ($head, $body) = $raw =~ /\A(.*?)\r?\n\r?\n(.*)\z/s ? ($1, $2) : ($raw, '');
    my @lines = split /\r?\n/, $head;
    my $status = shift(@lines) // '';
    my $code = $status =~ m{^\S+\s+(\d+)} ? $1 : undef;
    my %h;
    my $last;
    for (@lines) {
        if (/^\s+(.*)/ && defined $last) {
            $h{$last}[-1] .= " $1";
        } elsif (/^([^:\s]+)\s*:\s*(.*?)\s*$/) {
            push @{ $h{ $last = lc $1 } }, $2;
        }
    }
    my $res = Test::Nginx::Socket::Response->new($code, \%h, $body);
    return ($res, $raw_headers) if $code && ($code == 304 || $code == 101);

    my $left;
    my $te = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');
    if (defined $te && $te eq 'chunked') {
        my $decoded = '';
        while (1) {
            if ($body =~ /\G0[ \t]*\r\n\r\n/gc) {
                $left = $1 if $body =~ /\G(.+)/gcs;
                last;
            }
            my $err;
            if ($body =~ /\G[ \t]*([A-Fa-f0-9]+)[ \t]*\r\n/gc) {
                my $size = hex $1;
                my $pos = pos $body;
                if (length($body) - $pos < $size) {
                    $err = "invalid chunked data received "
                         . "(not enought octets for the data section)";
                } else {
                    $decoded .= substr $body, $pos, $size;
                    pos($body) = $pos + $size;
                    $err = "invalid chunked data received (expected CRLF)."
                        unless $body =~ /\G\r\n/gc;
                }
            } elsif ($body =~ /\G(.+)/gcs) {
                $err = "invalid chunked body received: $1";
            } else {
                $err = "no last chunk found - $body";
            }
            if ($err) {
                no_ending();
                Test::More::fail("$name - $err");
                return;
            }
        }
        $res->content($decoded);
    } elsif (defined $len && $len =~ /^\d+$/) {
        if (length $body < $len) {
            warn "WARNING: $name - response body truncated: $len expected, "
                 . "but got " . length($body) . "\n" unless $head_req;
        } elsif (length $body > $len) {
            $left = substr $body, $len;
            $res->content(substr $body, 0, $len);
        }
    }
    return ($res, $raw_headers, $left);
}

# ---------------------------------------------------------------------------
# Running one repetition of a block

sub run_requests {
    my ($block, $rep) = @_;
    my $name = $block->name;
    my $reqs = build_requests($block);
    bail_out("$name - request empty") unless @$reqs;

    my $timeout = parse_time(scalar $block->timeout) // $Timeout;
    my $pipelined = $block->pipelined_requests;
    my $per_conn = $pipelined ? scalar @$pipelined : 1;
    my $need_array = $pipelined ? 1 : @$reqs > 1;
    my $ignore = defined $block->ignore_response;
    my $req_idx = 0;

    for my $c (0 .. $#$reqs) {
        my ($raw, $head_req) = send_request($block, $reqs->[$c], $timeout);
        for my $j (1 .. $per_conn) {
            my ($res, $raw_headers, $left);
            if (!$ignore) {
                if (defined $block->http09) {
                    $res = Test::Nginx::Socket::Response->new(200, {}, $raw);
                    $raw_headers = '';
                } else {
                    ($res, $raw_headers, $left) =
                        parse_response($name, $raw // '', $head_req);
                }
            }
            if ($pipelined) {
                $raw = $left;
            } elsif (defined $left && length $left) {
                (my $l = $left) =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}', ord $1)/eg;
                warn "WARNING: $name - unexpected extra bytes after last chunk "
                     . "in response: \"$l\"\n";
            }

            if (!$ignore) {
                check_error_code($block, $res, $req_idx, $need_array);
                check_raw_response_headers($block, $raw_headers, $req_idx, $need_array);
                check_response_headers($block, $res, $raw_headers, $req_idx, $need_array);
                filter_response_body($block, $res, $req_idx);
                check_response_body($block, $res, $req_idx, $rep, $need_array);
            }

            # Every response but the last gets its own log checks here.
            if ($j < $per_conn || $c < $#$reqs) {
                sleep $block->wait if $block->wait;
                check_error_log($block, $res, $rep);
                check_access_log($block, $rep) unless $ignore;
            }
            $req_idx++;
        }
    }

    sleep $block->wait if $block->wait;
    check_error_log($block, undef, $rep);
    check_access_log($block, $rep) unless $ignore;
}

# ---------------------------------------------------------------------------
# Checks (one subtest each unless noted)

sub check_error_code {
    my ($block, $res, $idx, $need_array) = @_;
    my $name = $block->name;
    my $code = ($res && $res->code) || '';
    if (defined(my $like = $block->error_code_like)) {
        my $pat = indexed_value($name, $like, $idx, $need_array);
        Test::More::like($code, qr/$pat/sm, "$name - status code ok");
    } elsif (defined(my $expected = $block->error_code)) {
        Test::More::is($code, indexed_value($name, $expected, $idx, $need_array),
                       "$name - status code ok");
    } else {
        Test::More::is($code, 200, "$name - status code ok");
    }
}

sub check_raw_response_headers {
    my ($block, $raw_headers, $idx, $need_array) = @_;
    my $name = $block->name;
    $raw_headers //= '';
    if (defined(my $v = $block->raw_response_headers_like)) {
        my $pat = indexed_value($name, $v, $idx, $need_array);
        Test::More::like($raw_headers, qr/$pat/s, "$name - raw resp headers like");
    }
    if (defined(my $v = $block->raw_response_headers_unlike)) {
        my $pat = indexed_value($name, $v, $idx, $need_array);
        Test::More::unlike($raw_headers, qr/$pat/s, "$name - raw resp headers unlike");
    }
}

# "Name: value" lines; "! Name" (or a bare name) means "must be absent".
sub parse_header_spec {
    my %h;
    for my $line (split /\n/, shift // '') {
        $line =~ s/^\s+|\s+$//g;
        next unless length $line;
        if ($line =~ s/^!\s*//) {
            $h{$line} = undef;
        } else {
            my ($k, $v) = split /\s*:\s*/, $line, 2;
            $h{$k} = $v;
        }
    }
    return \%h;
}

# One subtest per header.
sub check_response_headers {
    my ($block, $res, $raw_headers, $idx, $need_array) = @_;
    my $name = $block->name;
    if (defined(my $spec = $block->response_headers)) {
        my $h = parse_header_spec(indexed_value($name, $spec, $idx, $need_array));
        for my $key (sort keys %$h) {
            my $val = $h->{$key};
            if (!defined $val) {
                Test::More::unlike($raw_headers // '', qr/^\s*\Q$key\E\s*:/ms,
                                   "$name - header $key not present in the raw headers");
                next;
            }
            $val =~ s/\$ServerPort\b/$ServerPort/g;
            $val =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            my $actual = $res ? $res->header($key) : undef;
            Test::More::is($actual // '', $val, "$name - header $key ok");
        }
    } elsif (defined(my $spec_like = $block->response_headers_like)) {
        my $h = parse_header_spec(indexed_value($name, $spec_like, $idx, $need_array));
        for my $key (sort keys %$h) {
            my $pat = $h->{$key} // '';
            my $actual = $res ? $res->header($key) : undef;
            Test::More::like($actual // '', qr/^$pat$/, "$name - header $key like ok");
        }
    }
}

# --- response_body_filters: names (md5_hex sha1_hex length uc lc ucfirst
# lcfirst) or code refs, in order; a 2-D array gives one list per request.
sub filter_response_body {
    my ($block, $res, $idx) = @_;
    my $filters = $block->response_body_filters;
    return unless defined $filters && $res && defined $res->content;
    my $name = $block->name;

    if (!ref $filters) {
        $filters =~ s/^\s+|\s+$//g;
        $filters = [ split /\s+/, $filters ];
    } elsif (ref $filters ne 'ARRAY') {
        $filters = [$filters];
    }
    if (ref $filters->[0] eq 'ARRAY') {
        bail_out("$name - the --- response_body_filters two-dimensional array "
                 . "only be like [[uc], [lc]] not [[uc], lc]")
            if grep { ref $_ ne 'ARRAY' } @$filters;
        $filters = $filters->[$idx];
        bail_out("$name - the ---response_body_filters two-dimensional array "
                 . "unmatch the specified request($idx)") unless defined $filters;
    }

    my %builtin = (
        md5_hex  => sub { require Digest::MD5; Digest::MD5::md5_hex($_[0]) },
        sha1_hex => sub { require Digest::SHA; Digest::SHA::sha1_hex($_[0]) },
        length   => sub { length $_[0] },
        uc => sub { uc $_[0] }, lc => sub { lc $_[0] },
        ucfirst => sub { ucfirst $_[0] }, lcfirst => sub { lcfirst $_[0] },
    );
    my $body = $res->content;
    for my $f (ref $filters eq 'ARRAY' ? @$filters : $filters) {
        my $code = ref $f eq 'CODE' ? $f
                 : !ref $f          ? $builtin{$f}
                 : bail_out("$name - the --- response_body_filters section "
                            . "only supports subroutine reference values and string values");
        bail_out("$name - unknown filter, \"$f\", specified in the "
                 . "--- response_body_filters section") unless $code;
        $body = $code->($body);
    }
    $res->content($body);
}

sub check_response_body {
    my ($block, $res, $idx, $rep, $need_array) = @_;
    my $name = $block->name;
    my $content = $res ? $res->content : undef;

    if (defined $block->response_body || defined $block->response_body_eval) {
        my $expected;
        if (defined $block->response_body_eval) {    # deprecated form
            $expected = eval indexed_value($name, scalar $block->response_body_eval,
                                           $idx, $need_array);
            warn $@ if $@;
        } else {
            $expected = indexed_value($name, scalar $block->response_body,
                                      $idx, $need_array);
        }
        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort\b/$ServerPort/g;
            $expected =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
            $expected = expand_env($expected, $name, $RandPorts);
        }
        my $desc = "$name - response_body - ";
        if (ref $expected) {
            Test::More::like($content, $expected,
                             "${desc}like (repeated req $rep, req $idx)");
        } else {
            is($content, $expected,
               "${desc}response is expected (repeated req $rep, req $idx)");
        }
    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike)
    {
        my $like = defined $block->response_body_like;
        my $type = $like ? 'like' : 'unlike';
        my $pat = indexed_value($name, scalar($like ? $block->response_body_like
                                                    : $block->response_body_unlike),
                                $idx, $need_array);
        $pat =~ s/\$ServerPort\b/$ServerPort/g;
        $pat =~ s/\$ServerPortForClient\b/$ServerPortForClient/g;
        my $summary = $content // '';
        $summary =~ s/^\s+|\s+$//g;
        $summary =~ s/\s+/ /g;
        my $cmp = $like ? \&Test::More::like : \&Test::More::unlike;
        $cmp->($content, qr/$pat/s,
               "$name - response_body_$type - response is expected ($summary)");
    }

    $_->($block, $content, $idx, $rep, 0) for @ResponseBodyChecks;
}

# Patterns from a section value: lines of a string, a Regexp, or an array.
sub patterns_of {
    my $v = shift;
    return [ @$v ] if ref $v eq 'ARRAY';
    return [ $v ] if ref $v;
    chomp $v;
    return [ split /\n+/, $v ];
}

sub line_matches {
    my ($line, $pat) = @_;
    return (ref $pat && $line =~ /$pat/) || $line =~ /\Q$pat\E/;
}

# " (req N)" after a subtest of request N; nothing after a shutdown check.
sub req_suffix { defined $_[0] ? " (req $_[0])" : '' }

# --- error_log / access_log style check: one subtest per pattern.
sub check_present {
    my ($name, $what, $file, $lines, $pats, $rep) = @_;
    for my $line (@$lines) {
        for my $pat (@$pats) {
            next unless defined $pat && line_matches($line, $pat);
            Test::More::pass("$name - pattern \"$pat\" matches a line in $file"
                             . req_suffix($rep));
            undef $pat;
        }
    }
    for my $pat (grep { defined } @$pats) {
        Test::More::fail("$name - pattern \"$pat\" should match a line in $file"
                         . req_suffix($rep));
    }
}

# --- no_error_log style check: one subtest per pattern (plus one failure
# per extra matching line).
sub check_absent {
    my ($name, $file, $lines, $pats, $rep) = @_;
    my %found;
    for my $line (@$lines) {
        for my $pat (grep { defined } @$pats) {
            next unless line_matches($line, $pat);
            no_ending() if $found{$pat}++;
            my ($l, $p) = (fmt_str($line), fmt_str($pat));
            Test::More::fail("$name - pattern \"$p\" should not match any line "
                             . "in $file but matches line \"$l\""
                             . req_suffix($rep));
        }
    }
    for my $pat (grep { defined && !$found{$_} } @$pats) {
        my $p = fmt_str($pat);
        Test::More::pass("$name - pattern \"$p\" does not match a line in $file"
                         . req_suffix($rep));
    }
}

# --- shutdown_error_log / no_shutdown_error_log of the last block run, on
# the lines its nginx logged after the block's own checks, up to its exit:
# called once that nginx is stopped (before the next block's start, or at
# the end).  A dry run (HUP mode, where nginx only reloads, or
# TEST_NGINX_NO_CLEAN, where it keeps running) skips them, one subtest per
# pattern.
sub check_shutdown_error_log {
    my ($dry_run) = @_;
    my $block = $PrevBlock or return;
    undef $PrevBlock;
    my $present = $block->shutdown_error_log;
    my $absent = $block->no_shutdown_error_log;
    return unless defined $present || defined $absent;

    my $name = $block->name;
    if ($dry_run || $UseHup || $ENV{TEST_NGINX_NO_CLEAN}) {
        my $count = grep { defined } map { defined $_ ? @{ patterns_of($_) } : () }
                                     $present, $absent;
        SKIP: { Test::More::skip("$name - shutdown_error_log - tests skipped "
                                 . "due to dry_run", $count) }
        return;
    }
    my $lines = error_log_lines();
    check_present($name, 'shutdown_error_log', 'error.log', $lines,
                  patterns_of($present)) if defined $present;
    check_absent($name, 'error.log', $lines, patterns_of($absent))
        if defined $absent;
    for my $line (@$lines) {
        next unless $line =~ /\bAssertion .*? failed\.$/;
        no_ending();
        chomp $line;
        Test::More::fail("$name - $line");
    }
}

sub check_error_log {
    my ($block, $res, $rep) = @_;
    my $name = $block->name;
    my $lines = error_log_lines();

    # --- grep_error_log / grep_error_log_out (arrays: one per repetition)
    my $grep = $block->grep_error_log;
    $grep = $grep->[$rep] if ref $grep eq 'ARRAY';
    if (!defined $block->grep_error_log && defined $block->grep_error_log_out) {
        bail_out("$name - No --- grep_error_log defined but "
                 . "--- grep_error_log_out is defined");
    }
    if (defined $grep) {
        my $expected = $block->grep_error_log_out;
        bail_out("$name - No --- grep_error_log_out defined but "
                 . "--- grep_error_log is defined") unless defined $expected;
        $expected = expand_env($expected, $name, $RandPorts) unless ref $expected;
        $expected = $expected->[$rep] if ref $expected eq 'ARRAY';
        my $out = '';
        for my $line (@$lines) {
            if ((ref $grep && $line =~ /$grep/) || $line =~ /\Q$grep\E/) {
                my $matched = $&;
                $out .= "$matched\n" if $matched !~ /\n/;
            }
        }
        my $desc = "$name - grep_error_log_out (req $rep)";
        if (ref $expected eq 'Regexp') {
            Test::More::like($out, $expected, $desc);
        } else {
            is($out, $expected, $desc);
        }
    }

    my %mentioned;
    for my $sect (qw(error_log no_error_log)) {
        my $v = $block->$sect;
        next unless defined $v;
        for my $p (grep { defined } @{ patterns_of($v) }) {
            my $s = "$p";
            $mentioned{$1} = 1 while $s =~ /\[(alert|crit|emerg)/g;
        }
    }

    if (defined $block->error_log) {
        check_present($name, 'error_log', 'error.log', $lines,
                      patterns_of(scalar $block->error_log), $rep);
    }
    if (defined $block->no_error_log) {
        check_absent($name, 'error.log', $lines,
                     patterns_of(scalar $block->no_error_log), $rep);
    }

    for my $line (@$lines) {
        for my $level (qw(alert crit emerg)) {
            warn "WARNING: $name - " . fmt_str($line) . "\n"
                if !$mentioned{$level} && $line =~ /\[$level\]/;
        }
        if ($line =~ /\bAssertion .*?failed\b/) {
            no_ending();
            chomp(my $l = $line);
            Test::More::fail("$name - $l\n");
        }
    }
}

sub check_access_log {
    my ($block, $rep) = @_;
    my $name = $block->name;
    return unless defined $block->access_log || defined $block->no_access_log;
    my $lines = log_lines($AccLogFile, 0);
    check_present($name, 'access_log', 'access.log', $lines,
                  patterns_of(scalar $block->access_log), $rep)
        if defined $block->access_log;
    check_absent($name, 'access.log', $lines,
                 patterns_of(scalar $block->no_access_log), $rep)
        if defined $block->no_access_log;
}

# ---------------------------------------------------------------------------
# A parsed HTTP response (the little of HTTP::Response that is needed).

package Test::Nginx::Socket::Response;

sub new {
    my ($class, $code, $headers, $content) = @_;
    return bless { code => $code, headers => $headers, content => $content }, $class;
}

sub code { $_[0]{code} }

sub content {
    my $self = shift;
    $self->{content} = shift if @_;
    return $self->{content};
}

# Repeated headers are joined with ", ".
sub header {
    my ($self, $key) = @_;
    my $v = $self->{headers}{ lc $key } or return undef;
    return join ', ', @$v;
}

1;
__END__

=head1 NAME

Test::Nginx::Socket - fallback for openresty's Test::Nginx::Socket

=head1 STREAM SECTIONS

None (stream_config, stream_server_config, stream_request,
stream_response): upstream's Test::Nginx::Socket has none; they belong to
its subclass Test::Nginx::Socket::Lua::Stream, which drives them through
ngx_http_lua_module.

=head1 DESCRIPTION

Used with C<PERL5LIB=t/fallback> when the real Test::Nginx is not
installed.  Implements the documented interface of upstream's module
(sections, exported functions, environment variables, generated
F<t/servroot/conf/nginx.conf>, subtest counts) for plain HTTP/1.x.

Not implemented, and a run that asks for one stops (Bail out!) instead of
passing without it: HTTP/2 and HTTP/3, curl, stap, valgrind, rr,
check-leak and benchmark modes (@UnsupportedModes), the embedded TCP/UDP
servers (tcp_*/udp_* sections), charset, response_body_json_sort,
post_setup_server_root, write_resp_body_file, skip_openssl, skip_slave (on
a build slave), todo_nginx (@UnsupportedSections).  Ignored:
TEST_NGINX_IGNORE_MISSING_DIRECTIVES (a missing directive fails the run).

=cut
