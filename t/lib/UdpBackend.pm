# UDP for the stream tests: backends that answer each datagram after a
# delay, and a client sending datagrams through nginx, each from a new
# socket (a new UDP session for nginx).  Backends are started by the test
# script, before run_tests; the client runs from a response body filter,
# while nginx still runs, so the .t files stay plain Test::Nginx::Socket.
package UdpBackend;

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use POSIX qw(_exit);
use Time::HiRes qw(sleep);

my @children;
my $owner = $$;

# Answers each datagram to 127.0.0.1:$port with $reply datagrams (1 by
# default) of $label (by default its port number), the first after $delay
# seconds, the others $gap seconds apart; one datagram at a time.
# Returns once it has answered a first session, so that the tests do not
# measure its start.
sub start {
    my (%args) = @_;
    my $socket = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                       LocalPort => $args{port},
                                       Proto => 'udp')
        or die "UdpBackend: cannot bind $args{port}: $!\n";

    my $pid = fork // die "UdpBackend: fork: $!\n";
    if ($pid) {
        close $socket;
        push @children, $pid;
        sessions($args{port}, 1, $args{reply}) ne "none\n"
            or die "UdpBackend: $args{port} does not answer\n";
        return;
    }

    while (1) {
        my $peer = $socket->recv(my $datagram, 65535) // next;
        sleep $args{delay} if $args{delay};
        for my $i (1 .. ($args{reply} // 1)) {
            sleep $args{gap} if $i > 1 && $args{gap};
            $socket->send(($args{label} // $args{port}) . "\n", 0, $peer);
        }
    }
}

# Sends $n datagrams to 127.0.0.1:$port, one after the other, each from
# its own socket, and waits up to a second for each of $answers answers (1
# by default); returns the first answer of each (the backend's label), or
# "none".
sub sessions {
    my ($port, $n, $answers) = @_;
    my $out = '';
    for (1 .. $n) {
        my $socket = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                           PeerPort => $port,
                                           Proto => 'udp')
            or die "UdpBackend: socket: $!\n";
        $socket->send("hello");
        my $first;
        for (1 .. ($answers // 1)) {
            last unless IO::Select->new($socket)->can_read(1)
                        && defined $socket->recv(my $answer, 65535);
            $first //= $answer;
        }
        $out .= $first // "none\n";
        close $socket;
    }
    return $out;
}

END {
    kill 'TERM', @children if $$ == $owner && @children;
}

1;
