// A small, fast random generator (splitmix64), one per worker process.
#pragma once

#include <cstdint>

namespace upstream_latency {

// The high 64 bits of the 128-bit product a * b, from 32-bit halves: for
// targets without unsigned __int128 (i386, armhf).
constexpr uint64_t mul_high64(uint64_t a, uint64_t b) noexcept
{
    uint64_t a_lo = a & 0xffffffff, a_hi = a >> 32;
    uint64_t b_lo = b & 0xffffffff, b_hi = b >> 32;
    uint64_t lo_lo = a_lo * b_lo;
    uint64_t hi_lo = a_hi * b_lo;
    uint64_t lo_hi = a_lo * b_hi;
    uint64_t middle = (lo_lo >> 32) + (hi_lo & 0xffffffff) + lo_hi;

    return a_hi * b_hi + (hi_lo >> 32) + (middle >> 32);
}

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
#if defined(__SIZEOF_INT128__)
        return static_cast<uint64_t>(
            (static_cast<unsigned __int128>(next()) * n) >> 64);
#else
        return mul_high64(next(), n);
#endif
    }

    bool coin() noexcept { return next() >> 63; }

private:
    uint64_t state_;
};

}  // namespace upstream_latency
