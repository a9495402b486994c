// A small, fast random generator (splitmix64), one per worker process.
#pragma once

#include <cstdint>

namespace upstream_latency {

class Rng {
public:
    explicit Rng(uint64_t seed = 0) noexcept : state_(seed) {}

    uint64_t next() noexcept
    {
        uint64_t z = (state_ += 0x9e3779b97f4a7c15);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
        z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
        return z ^ (z >> 31);
    }

    // Uniform in [0, n), n > 0 (Lemire's multiply-shift; bias below 2^-32
    // for any n that fits 32 bits).
    uint64_t below(uint64_t n) noexcept
    {
        return static_cast<uint64_t>(
            (static_cast<unsigned __int128>(next()) * n) >> 64);
    }

    bool coin() noexcept { return next() >> 63; }

private:
    uint64_t state_;
};

}  // namespace upstream_latency
