# A backend that answers every connection with fixed bytes: for responses
# nginx itself cannot be made to send, such as a body shorter than its
# Content-Length, a chunked body cut off, or a 101 switch to a tunnel that
# stays open, and for protocols other than HTTP (memcached).  Started by the
# test script, before run_tests.
package RawBackend;

use strict;
use warnings;

use IO::Socket::INET;
use POSIX qw(_exit);
use Time::HiRes qw(sleep);

my @children;
my $owner = $$;

# Listens on 127.0.0.1:$port (before returning, so nginx finds it ready);
# to each connection, after the request header (or what matches
# $request_end), waits $delay seconds, writes $response, keeps
# the connection open $hold seconds, and closes it.  With $keepalive, the
# connection stays open after the response instead, and closes when the
# next request comes, unanswered, as a server whose idle keep-alive
# connection times out just as the client reuses it; or, with $reuse_hold,
# that many seconds after the next request, as a server that hangs.
sub start {
    my (%args) = @_;
    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                       LocalPort => $args{port},
                                       Listen => 64, ReuseAddr => 1)
        or die "RawBackend: cannot listen on $args{port}: $!\n";

    my $pid = fork // die "RawBackend: fork: $!\n";
    if ($pid) {
        close $listen;
        push @children, $pid;
        return;
    }

    $SIG{CHLD} = 'IGNORE';
    while (my $client = $listen->accept) {
        next if fork;    # one process a connection, so holds overlap
        read_request($client, $args{request_end});
        sleep $args{delay} if $args{delay};
        syswrite $client, $args{response};
        sleep $args{hold} if $args{hold};
        if ($args{keepalive}) {
            read_request($client);
            sleep $args{reuse_hold} if $args{reuse_hold};
        }
        close $client;
        _exit(0);
    }
    _exit(0);
}

sub read_request {
    my ($client, $end) = @_;
    $end //= qr/\r\n\r\n/;
    my $request = '';
    while ($request !~ $end) {
        last unless sysread $client, $request, 4096, length $request;
    }
}

END {
    kill 'TERM', @children if $$ == $owner && @children;
}

1;
