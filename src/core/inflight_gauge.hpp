// Requests in flight to one peer, summed over all worker processes, with
// the mean time they have been waiting, in one lock-free 64-bit cell.
#pragma once

#include <atomic>
#include <cstdint>

namespace upstream_latency {

struct Inflight {
    uint32_t count;
    double mean_elapsed_us;
};

// Layout: count (high 16 bits) and the sum of the start times in
// microseconds modulo 2^48 (low 48 bits).  The mean elapsed time is
// (count * now - sum) / count, exact in modular arithmetic while the total
// waiting time stays below 2^48 us (8.9 years).
class InflightGauge {
public:
    static constexpr uint64_t kSumMask = (uint64_t{1} << 48) - 1;
    static constexpr uint32_t kMaxCount = 0xffff;

    static Inflight read(uint64_t packed, uint64_t now_us) noexcept
    {
        uint32_t count = static_cast<uint32_t>(packed >> 48);
        if (count == 0) {
            return {0, 0.0};
        }
        uint64_t waited = (count * now_us - packed) & kSumMask;
        // A request entered by another worker after now_us was read makes
        // the difference negative: it wraps to near 2^48; count it as 0.
        if (waited > kSumMask / 2) {
            waited = 0;
        }
        return {count, static_cast<double>(waited) / count};
    }

    // Returns false when the gauge is full; the caller then must not leave.
    static bool enter(std::atomic<uint64_t>& cell, uint64_t start_us) noexcept
    {
        uint64_t old = cell.load(std::memory_order_relaxed);
        for (;;) {
            if ((old >> 48) == kMaxCount) {
                return false;
            }
            uint64_t next = (((old >> 48) + 1) << 48)
                            | ((old + start_us) & kSumMask);
            if (cell.compare_exchange_weak(old, next,
                                           std::memory_order_relaxed))
            {
                return true;
            }
        }
    }

    // Takes out all that `entered` (a gauge's value) holds, as if each of
    // its requests had left.
    static void remove(std::atomic<uint64_t>& cell, uint64_t entered) noexcept
    {
        uint64_t count = entered >> 48;
        uint64_t old = cell.load(std::memory_order_relaxed);
        for (;;) {
            uint64_t left = (old >> 48) > count ? (old >> 48) - count : 0;
            uint64_t next = left == 0 ? 0
                                      : (left << 48)
                                            | ((old - entered) & kSumMask);
            if (cell.compare_exchange_weak(old, next,
                                           std::memory_order_relaxed))
            {
                return;
            }
        }
    }

    static void leave(std::atomic<uint64_t>& cell, uint64_t start_us) noexcept
    {
        uint64_t old = cell.load(std::memory_order_relaxed);
        for (;;) {
            if ((old >> 48) == 0) {
                return;
            }
            uint64_t next = (((old >> 48) - 1) << 48)
                            | ((old - start_us) & kSumMask);
            if (cell.compare_exchange_weak(old, next,
                                           std::memory_order_relaxed))
            {
                return;
            }
        }
    }
};

}  // namespace upstream_latency
