// The time an upstream's estimates age by: the monotonic clock less the
// upstream's pauses.
#pragma once

#include <atomic>
#include <cstdint>

namespace upstream_latency {

// Estimates fade (Decay) so that a peer that was slow once is probed again
// while its upstream serves others.  An upstream that serves nothing has
// nothing to probe: were its estimates to fade as it idles, after a few
// seconds every one would sit on the noise floor, the slow servers as fast
// as the others, and a burst would spread evenly.  A real bench run showed
// it: after ten idle seconds the server three times slower than the rest
// took 7 of a burst's first 16 requests within 7 ms and queued them
// (bench/sim/FINDINGS.md).  So a pause, a stretch in which no request of
// the upstream starts or ends, counts only up to the hold (the
// half-life): the estimates are stamped and aged on the monotonic clock
// less the time beyond it.
//
// One word shared by the worker processes: the pauses so far in
// milliseconds (high 38 bits, modulo 2^38 as PeakEwma's stamps) and the
// last start or end of a request of the upstream in monotonic
// milliseconds (low 26 bits): a pause is read modulo 2^26 ms, 18.6 hours,
// so one longer than that counts, past the hold, in whole multiples of
// it, and after most of a day idle the estimates have faded; a hold
// (half-life) beyond 18.6 hours is never exceeded, and pauses count in
// full.  0: no request yet.
class UpstreamClock {
public:
    static constexpr unsigned kStartBits = 26;
    static constexpr uint64_t kStartMask = (uint64_t{1} << kStartBits) - 1;
    // A last start or end read as this much later than now (another
    // process's, between this one's reading of the clock and of the word).
    static constexpr uint64_t kLaterMs = uint64_t{1} << 16;

    // The upstream's pauses up to now_ms, in milliseconds, the current one
    // counted beyond hold_ms: what the estimates' time lags behind the
    // monotonic clock.
    uint64_t paused_ms(uint64_t now_ms, uint64_t hold_ms) const noexcept
    {
        return paused_at(word_.load(std::memory_order_relaxed), now_ms,
                         hold_ms);
    }

    // A request of the upstream starts or ends at now_ms: a pause ends.
    // Returns paused_ms(now_ms, hold_ms).  At most one store per
    // millisecond; a store lost to another process's at the same moment
    // is not retried, the other's is as good.
    uint64_t serve(uint64_t now_ms, uint64_t hold_ms) noexcept
    {
        uint64_t word = word_.load(std::memory_order_relaxed);
        uint64_t paused = paused_at(word, now_ms, hold_ms);

        if (word == 0 || gap(word, now_ms) != 0) {
            word_.compare_exchange_strong(
                word, (paused << kStartBits) | (now_ms & kStartMask),
                std::memory_order_relaxed);
        }

        return paused;
    }

    // For a new configuration's table: the same upstream's clock in the
    // previous one.
    void copy(const UpstreamClock& from) noexcept
    {
        word_.store(from.word_.load(std::memory_order_relaxed),
                    std::memory_order_relaxed);
    }

private:
    // Milliseconds since the last start or end, 0 if none or if now_ms is
    // before it.
    static uint64_t gap(uint64_t word, uint64_t now_ms) noexcept
    {
        uint64_t since = (now_ms - word) & kStartMask;
        return word == 0 || since > kStartMask - kLaterMs ? 0 : since;
    }

    static uint64_t paused_at(uint64_t word, uint64_t now_ms,
                              uint64_t hold_ms) noexcept
    {
        uint64_t since = gap(word, now_ms);
        return (word >> kStartBits)
               + (since > hold_ms ? since - hold_ms : 0);
    }

    std::atomic<uint64_t> word_{0};
};

static_assert(sizeof(UpstreamClock) == 8);

}  // namespace upstream_latency
