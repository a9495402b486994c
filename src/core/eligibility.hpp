// Whether a peer may take a request, by nginx's rules for down, max_fails,
// fail_timeout and max_conns.
#pragma once

#include <cstdint>

namespace upstream_latency {

struct PeerHealth {
    bool down;
    uint64_t fails;
    uint64_t max_fails;    // 0: failures are not counted
    int64_t checked;       // seconds
    int64_t fail_timeout;  // seconds
    uint64_t conns;
    uint64_t max_conns;    // 0: unlimited
};

constexpr bool usable(const PeerHealth& peer, int64_t now) noexcept
{
    if (peer.down) {
        return false;
    }
    if (peer.max_fails != 0 && peer.fails >= peer.max_fails
        && now - peer.checked <= peer.fail_timeout)
    {
        return false;
    }
    return peer.max_conns == 0 || peer.conns < peer.max_conns;
}

}  // namespace upstream_latency
