// Peak EWMA of one latency metric, packed into 64 bits so that every worker
// process updates it with one lock-free compare-and-swap.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace upstream_latency {

// How old estimates fade: without new samples the value holds for
// half_life_ms, then halves every half_life_ms, so that a peer that was slow
// once is probed again.  The hold keeps a peer that a balancer samples now
// and then (one of many, or one of many balancers' choices) at its measured
// speed between samples: decaying from the sample on, the slower peers
// looked faster between two samples and drew requests as probes that the
// fast ones would have served sooner (simulated, bench/sim/FINDINGS.md).
struct Decay {
    // The factors of the first kTabulatedMs elapsed milliseconds come from
    // a table made once (tabulate): factor(ms) = fine[ms % 64] * coarse[ms /
    // 64], exp2's result to 1e-12 (relative), instead of calling exp2 at
    // every reading of an estimate.
    static constexpr int64_t kStep = 64;
    static constexpr int64_t kTabulatedMs = kStep * kStep;
    static constexpr std::size_t kTableSize = 2 * kStep;

    uint32_t half_life_ms;
    const double* table = nullptr;  // kTableSize factors, or nullptr
    // The time estimates are stamped and aged on: the monotonic clock less
    // this, the upstream's pauses (UpstreamClock::paused_ms).
    uint64_t paused_ms = 0;

    double factor(int64_t elapsed_ms) const noexcept
    {
        elapsed_ms -= half_life_ms;  // the hold
        if (elapsed_ms <= 0) {
            return 1.0;
        }
        if (elapsed_ms < kTabulatedMs && table != nullptr) {
            return table[elapsed_ms % kStep]
                   * table[kStep + elapsed_ms / kStep];
        }
        return computed(elapsed_ms);
    }

    // Fills table[0..kTableSize) for half_life_ms: the factors of 0 to 63
    // ms past the hold, then of 0, 64, 128 ... 4032 ms past it.
    static void tabulate(uint32_t half_life_ms, double* table) noexcept
    {
        Decay decay{half_life_ms};
        for (int64_t i = 0; i < kStep; i++) {
            table[i] = decay.computed(i);
            table[kStep + i] = decay.computed(i * kStep);
        }
    }

private:
    double computed(int64_t elapsed_ms) const noexcept
    {
        return std::exp2(-static_cast<double>(elapsed_ms) / half_life_ms);
    }
};

// A sample is exact when the attempt completed normally; otherwise (failure,
// timeout, aborted or 5xx response) it is only a lower bound of the latency.
enum class SampleKind { exact, lower_bound };

// A failed attempt (refused, timed out, or answered with a 5xx status) says
// nothing of the peer's speed, only that it should be avoided: it counts as
// a response that took fail_timeout, at least one second, or the time it
// really took if longer.  A peer refusing in 0.1 ms never looks fast.
constexpr uint64_t failure_sample_us(uint64_t elapsed_us,
                                     uint64_t fail_timeout_s) noexcept
{
    uint64_t penalty = (fail_timeout_s > 1 ? fail_timeout_s : 1) * 1'000'000;
    return elapsed_us > penalty ? elapsed_us : penalty;
}

// Weight of an exact sample below the estimate; a sample above the estimate
// replaces it at once (the "peak" in peak EWMA).
inline constexpr double kDownwardWeight = 0.25;

// Layout: estimate in microseconds (high 26 bits, up to 67 s; 0 = no
// sample yet) and the time of the last sample in milliseconds of the
// estimates' time (Decay::paused_ms; low 38 bits, wrapping after 8.7
// years).
class PeakEwma {
public:
    static constexpr unsigned kStampBits = 38;
    static constexpr uint64_t kStampMask = (uint64_t{1} << kStampBits) - 1;
    static constexpr uint64_t kMaxMicros = (uint64_t{1} << 26) - 1;

    // The estimate at now_us, decayed since the last sample; 0 when unknown.
    static double read(uint64_t packed, uint64_t now_us,
                       Decay decay) noexcept
    {
        return read_ms(packed, now_us / 1000, decay);
    }

    // The same at now_ms, monotonic milliseconds.
    static double read_ms(uint64_t packed, uint64_t now_ms,
                          Decay decay) noexcept
    {
        // 26 bits: the signed conversion, shorter, is exact
        auto value = static_cast<double>(
            static_cast<int64_t>(packed >> kStampBits));
        if (value == 0.0) {
            return 0.0;
        }
        // milliseconds since the stamp, modulo its wrap; none, or a
        // moment "later" (another process stamped after now_ms): no decay
        uint64_t diff = (now_ms - decay.paused_ms - packed) & kStampMask;
        if (diff == 0 || diff > kStampMask / 2) {
            return value;
        }
        return value * decay.factor(static_cast<int64_t>(diff));
    }

    static bool measured(uint64_t packed) noexcept
    {
        return (packed >> kStampBits) != 0;
    }

    // The packed value after one sample; unchanged when a lower bound is
    // below the current estimate.  An exact sample below the estimate
    // moves it by downward_weight.
    static uint64_t with_sample(uint64_t packed, uint64_t sample_us,
                                SampleKind kind, uint64_t now_us,
                                Decay decay,
                                double downward_weight = kDownwardWeight)
        noexcept
    {
        double current = read(packed, now_us, decay);
        uint64_t sample = std::clamp<uint64_t>(sample_us, 1, kMaxMicros);
        uint64_t value;

        if (current == 0.0 || static_cast<double>(sample) >= current) {
            value = sample;
        } else if (kind == SampleKind::lower_bound) {
            return packed;
        } else {
            double next = current
                          + downward_weight
                                * (static_cast<double>(sample) - current);
            // clamped, so the signed conversion (shorter) is exact
            value = static_cast<uint64_t>(static_cast<int64_t>(
                std::clamp(next, 1.0, static_cast<double>(kMaxMicros))));
        }

        return (value << kStampBits)
               | ((now_us / 1000 - decay.paused_ms) & kStampMask);
    }

    // Inline: on the path of every response, where a call cost a third
    // of it.
    [[gnu::always_inline]] static void record(
        std::atomic<uint64_t>& cell, uint64_t sample_us, SampleKind kind,
        uint64_t now_us, Decay decay,
        double downward_weight = kDownwardWeight) noexcept
    {
        uint64_t old = cell.load(std::memory_order_relaxed);
        for (;;) {
            uint64_t next = with_sample(old, sample_us, kind, now_us, decay,
                                        downward_weight);
            if (next == old
                || cell.compare_exchange_weak(old, next,
                                              std::memory_order_relaxed))
            {
                return;
            }
        }
    }
};

}  // namespace upstream_latency
