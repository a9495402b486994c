# UDP for the stream tests: backends that answer each datagram after a
# delay, and a client sending datagrams through nginx, each from a new
# socket (a new UDP session for nginx).  Backends are started by the test
# script, before run_tests; the client runs from a response body filter,
# while nginx still runs, so the .t files stay plain Test::Nginx::Socket.
# Also a DNS server for nginx's resolver (t/resolve.t).
package UdpBackend;

use strict;
use warnings;

use File::Temp ();
use IO::Select;
use IO::Socket::INET;
use POSIX qw(_exit);
use Time::HiRes qw(sleep);

my @children;
my @temporaries;   # files of fixed_dns, kept as long as the file runs
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

# A DNS server on 127.0.0.1:$port: an A query for a name of %$names is
# answered with the IPv4 addresses listed in its file at that moment (one
# a line; none: no answer), with a TTL of 1 s; other names get NXDOMAIN,
# other types no answer.
sub dns {
    my (%args) = @_;
    my %files = map { (lc $_ => $args{names}{$_}) } keys %{ $args{names} };
    my $socket = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                       LocalPort => $args{port},
                                       Proto => 'udp')
        or die "UdpBackend: cannot bind $args{port}: $!\n";

    my $pid = fork // die "UdpBackend: fork: $!\n";
    if ($pid) {
        close $socket;
        push @children, $pid;
        return;
    }

    while (1) {
        my $peer = $socket->recv(my $query, 512) // next;
        my $answer = dns_answer($query, \%files);
        $socket->send($answer, 0, $peer) if defined $answer;
    }
}

# The same for names whose addresses do not change: %$addresses maps a
# name to its list of addresses.
sub fixed_dns {
    my (%args) = @_;
    my %names;
    for my $name (keys %{ $args{addresses} }) {
        my $file = File::Temp->new;
        print $file map { "$_\n" } @{ $args{addresses}{$name} };
        close $file;
        push @temporaries, $file;
        $names{$name} = $file->filename;
    }
    dns(port => $args{port}, names => \%names);
}

# The answer to one query (RFC 1035 4.1), or undef if it is not one; the
# addresses of a name from its file in %$files (names in lower case).
sub dns_answer {
    my ($query, $files) = @_;
    return undef if length $query < 17;
    my ($id, $flags) = unpack 'n n', $query;
    return undef if $flags & 0x8000;

    # the question: labels up to the root, then type and class
    my ($offset, @labels) = (12);
    while ((my $len = ord substr $query, $offset, 1) > 0) {
        return undef if $len > 63 || $offset + 1 + $len > length $query;
        push @labels, substr $query, $offset + 1, $len;
        $offset += 1 + $len;
    }
    return undef if $offset + 5 > length $query;
    my $question = substr $query, 12, $offset + 5 - 12;
    my ($type) = unpack 'n', substr $query, $offset + 1, 2;

    my @addresses;
    my $file = $files->{lc join '.', @labels};
    my $known = defined $file;
    if ($known && $type == 1 && open my $fh, '<', $file) {
        @addresses = grep { /^\d+\.\d+\.\d+\.\d+$/ }
                     map { s/\s+//gr } <$fh>;
    }

    # a response to a recursive query; NXDOMAIN for another name
    my $answer = pack 'n n n n n n', $id, 0x8180 | ($known ? 0 : 3), 1,
                      scalar @addresses, 0, 0;
    $answer .= $question;
    for my $address (@addresses) {
        # the name by a pointer to the question's, A, IN, TTL 1 s
        $answer .= pack 'n n n N n C4', 0xc00c, 1, 1, 1, 4,
                        split /\./, $address;
    }
    return $answer;
}

END {
    kill 'TERM', @children if $$ == $owner && @children;
}

1;
