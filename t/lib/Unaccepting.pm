# A port on 127.0.0.1 where connecting never completes, as with a server
# that stopped accepting: a listening socket whose accept queue is full.
# Linux drops a SYN to a listener with a full queue (it neither answers
# nor refuses), so the client's connect times out.  The queue is filled
# with connections of our own, never accepted, until one no longer
# completes.  (Not listen(0): there, SYN cookies complete every connect.)
package Unaccepting;

use strict;
use warnings;

use IO::Socket::INET;

my ($listener, @fillers);

# Sets $TEST_NGINX_UNACCEPTING_PORT to such a port, held until the test
# script exits.
sub start {
    $listener = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                      LocalPort => 0, Proto => 'tcp')
        or die "Unaccepting: socket: $!\n";
    $listener->listen(1) or die "Unaccepting: listen: $!\n";
    my $address = '127.0.0.1:' . $listener->sockport;
    for (1 .. 8) {
        my $filler = IO::Socket::INET->new(PeerAddr => $address,
                                           Timeout => 0.5);
        if (!$filler) {
            $ENV{TEST_NGINX_UNACCEPTING_PORT} = $listener->sockport;
            return;
        }
        push @fillers, $filler;
    }
    die "Unaccepting: $address still accepts after 8 connections\n";
}

1;
