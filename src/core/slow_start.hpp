// Slow start: a peer that joins a pool (added on reload, back from `down`,
// back from failure) has no measurement, and would score best at every
// worker of every balancer at once.  Instead its weight ramps up linearly
// over a window, as NGINX Plus's slow_start= does, and until it is
// measured it counts as fast as the others, not as instant.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>

#include "latency_table.hpp"
#include "rng.hpp"
#include "selection.hpp"
#include "weighted_sampler.hpp"

namespace upstream_latency {

// The least share of its weight a joining peer has, as Envoy's default
// min_weight_percent: weight and capacity stay finite and positive.
inline constexpr double kRampFloor = 0.1;

// Tie-break weights are the configured weights times this, so that a
// ramped weight keeps its fraction (smooth weighted round robin makes the
// same sequence of weights all scaled by one factor).
inline constexpr uint32_t kRampWeightScale = 16;

// The largest weight= the module takes: scaled by kRampWeightScale, a
// weight is kept in 32 bits.
inline constexpr uint32_t kMaxWeight = UINT32_MAX / kRampWeightScale;

struct SlowStart;

// What a joining peer is taken to be worth until it shows otherwise, from
// the fully ramped, measured peers it competes with (those of the same
// choice).  During its ramp, their mean latency: it is no faster
// than the pool it joins, so the short wait of its first requests, or an
// average decayed while it was out (back from failure), does not draw a
// surge.  After the ramp, while still unmeasured, the least: it ties with
// the best peer and its share of the ties gets it measured, instead of
// waiting, one request at a time, for the others to be busy.
struct JoinPrior {
    double mean_us = 0;
    double least_us = 0;
};

// Sums up the peers of a choice into its JoinPrior: those at full ramp,
// or, when none of them is measured, those ramping (a pool that is itself
// joining: an unmeasured newcomer is no faster than the peers measured
// before it; before, it counted as the 1 ms floor against their 50 ms and
// took 10 of a burst of 12, t/resolve.t).
class JoinPriorSum {
public:
    // A peer at full ramp or not, and its latency (0: unknown).
    void add(double latency_us, bool full_ramp = true) noexcept
    {
        (full_ramp ? full_ : ramping_).add(latency_us);
    }

    // The peer of slot, seen at latency_us at now_ms: its latency counts
    // once it has answered since joining, at full ramp if its ramp is 1.
    void add(const PeerSlot& slot, double latency_us, SlowStart slow_start,
             uint64_t now_ms) noexcept;

    // Sets prior from the peers added, if any was measured.
    void update(JoinPrior& prior) const noexcept
    {
        const Sum& sum = full_.measured ? full_ : ramping_;
        if (sum.measured) {
            prior = {sum.sum_us / sum.measured, sum.least_us};
        }
    }

private:
    struct Sum {
        double sum_us = 0;
        double least_us = 0;
        uint32_t measured = 0;

        void add(double latency_us) noexcept
        {
            if (latency_us > 0) {
                sum_us += latency_us;
                least_us = measured ? std::min(least_us, latency_us)
                                    : latency_us;
                measured++;
            }
        }
    };

    Sum full_;
    Sum ramping_;
};

struct SlowStart {
    uint32_t window_ms;  // 0: off

    // The share of its weight a peer that joined at joined_ms (0: with the
    // first configuration) has at now_ms: from kRampFloor up to 1, linearly
    // over the window.  A join still to come is at the floor.
    double ramp(uint64_t joined, uint64_t now_ms) const noexcept
    {
        uint64_t joined_ms = joined_at(joined);

        if (joined_ms == 0 || now_ms >= joined_ms + window_ms) {
            return 1.0;
        }
        if (now_ms <= joined_ms) {
            return kRampFloor;
        }
        return std::max(kRampFloor,
                        static_cast<double>(now_ms - joined_ms) / window_ms);
    }

    double ramp(const PeerSlot& slot, uint64_t now_ms) const noexcept
    {
        return ramp(slot.joined_ms.load(std::memory_order_relaxed), now_ms);
    }

    // The ramp of the peer of slot at now_ms; a peer that ever joined is
    // seen as joining (below) with it, a peer of the first configuration
    // as it is.
    double apply(const PeerSlot& slot, uint64_t now_ms, JoinPrior prior,
                 PeerLoad& load) const noexcept;
};

// The peer joins at at_ms: added on reload or back from down (see
// LatencyTable::create), a resolved address gained or back (see
// LatencyTable::acquire), or back from failure, once fail_timeout is over
// and nginx tries it again.  At least 1 ms: 0 is "with the first
// configuration".  It has not answered since.
inline void rejoin(PeerSlot& slot, uint64_t at_ms) noexcept
{
    slot.joined_ms.store(std::max<uint64_t>(at_ms, 1) | kJoinedUnanswered,
                         std::memory_order_relaxed);
}

// The peer answered a request sent at sent_us (monotonic microseconds),
// an exact sample of the metric its choices read: if it was sent after
// the peer joined, the peer has answered since.  Inline: on the path of
// every response, one load while no peer joins.
[[gnu::always_inline]] inline void answered(PeerSlot& slot,
                                            uint64_t sent_us) noexcept
{
    uint64_t joined = slot.joined_ms.load(std::memory_order_relaxed);

    if (!answered_since_joining(joined)
        && sent_us >= joined_at(joined) * 1000)
    {
        slot.joined_ms.compare_exchange_strong(
            joined, joined & ~kJoinedUnanswered, std::memory_order_relaxed);
    }
}

// What a selection sees of a peer that joined (its joined_ms word), at
// ramp.  Its requests in flight count as if its capacity (weight) were
// ramp of the configured one, whatever the score makes of them.  Its
// latency is at least the prior's mean during the ramp, and at least its
// least after the ramp until it has answered since joining (see
// JoinPrior).
inline PeerLoad joining(PeerLoad load, uint64_t joined, double ramp,
                        JoinPrior prior) noexcept
{
    double active = std::ceil(load.active / ramp);
    load.active = static_cast<uint32_t>(std::min(active, 4294967295.0));
    if (ramp < 1.0) {
        load.latency_us = std::max(load.latency_us, prior.mean_us);
    } else if (!answered_since_joining(joined)) {
        load.latency_us = std::max(load.latency_us, prior.least_us);
    }
    return load;
}

// The weight of a peer in ties (pick_least_score) at ramp, scaled by
// kRampWeightScale; at least 1.
inline uint32_t ramped_weight(uint32_t weight, double ramp) noexcept
{
    uint64_t full = uint64_t{weight} * kRampWeightScale;
    if (ramp >= 1.0) {
        return static_cast<uint32_t>(std::min<uint64_t>(full, UINT32_MAX));
    }
    double w = std::round(static_cast<double>(full) * ramp);
    return static_cast<uint32_t>(std::clamp(w, 1.0, 4294967295.0));
}

// Whether a peer drawn at random by its configured weight is kept, at
// ramp: with probability ramp (see draw_ramped).
inline bool keep_drawn(double ramp, Rng& rng) noexcept
{
    return ramp >= 1.0
           || static_cast<double>(rng.next() >> 11) * 0x1p-53 < ramp;
}

// Draws a peer by its configured weight so that the draws follow the
// ramped weights: a peer drawn is kept with the probability of its ramp,
// ramp_of(index), else drawn again, up to kRampDraws draws, the last of
// which stands (drawn again only once, a peer at 10% of its ramp took
// 13% of the requests beside two others, where its share is 4.8%).
inline constexpr int kRampDraws = 20;

template <class Usable, class RampOf>
std::size_t draw_ramped(const WeightedSampler& sampler, Rng& rng,
                        Usable&& usable, RampOf&& ramp_of) noexcept
{
    std::size_t i = sampler.draw(rng, usable);

    for (int k = 1; k < kRampDraws && i != WeightedSampler::npos
                    && !keep_drawn(ramp_of(i), rng);
         k++)
    {
        i = sampler.draw(rng, usable);
    }
    return i;
}

inline void JoinPriorSum::add(const PeerSlot& slot, double latency_us,
                              SlowStart slow_start, uint64_t now_ms) noexcept
{
    uint64_t joined = slot.joined_ms.load(std::memory_order_relaxed);

    add(answered_since_joining(joined) ? latency_us : 0,
        slow_start.ramp(joined, now_ms) == 1.0);
}

inline double SlowStart::apply(const PeerSlot& slot, uint64_t now_ms,
                              JoinPrior prior, PeerLoad& load) const noexcept
{
    uint64_t joined = slot.joined_ms.load(std::memory_order_relaxed);
    double r = ramp(joined, now_ms);

    if (joined != 0) {
        load = joining(load, joined, r, prior);
    }
    return r;
}

}  // namespace upstream_latency
