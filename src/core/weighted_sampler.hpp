// Drawing peers with probability proportional to weight, in constant time:
// Vose's alias table, built once per peer list, and rejection of peers that
// cannot take the request.
#pragma once

#include <cstddef>
#include <cstdint>

#include "rng.hpp"

namespace upstream_latency {

struct AliasEntry {
    uint32_t threshold;  // keep this index when 32 random bits are below
    uint32_t alias;      // else take this one
};

class WeightedSampler {
public:
    static constexpr std::size_t npos = SIZE_MAX;

    // Draws this many times before the linear pass; with half of the
    // weight usable, 20 draws all miss once in a million choices.
    static constexpr int kMaxRejections = 20;

    // Fills entries[0..count) for weights[0..count), all of them > 0.
    // Throws std::bad_alloc.
    static void build(const uint32_t* weights, std::size_t count,
                      AliasEntry* entries);

    // The same in the caller's memory: share and work hold count each.
    static void build(const uint32_t* weights, std::size_t count,
                      AliasEntry* entries, double* share,
                      uint32_t* work) noexcept;

    WeightedSampler(const AliasEntry* entries, const uint32_t* weights,
                    std::size_t count) noexcept
        : entries_(entries), weights_(weights), count_(count)
    {
    }

    // An index drawn by weight among all.
    std::size_t sample(Rng& rng) const noexcept
    {
        uint64_t bits = rng.next();
        std::size_t i = static_cast<std::size_t>(
            (static_cast<uint64_t>(static_cast<uint32_t>(bits)) * count_)
            >> 32);
        return static_cast<uint32_t>(bits >> 32) < entries_[i].threshold
                   ? i
                   : entries_[i].alias;
    }

    // An index drawn by weight among those with usable(index), or npos.
    // Constant time while most of the weight is usable; after
    // kMaxRejections misses, one pass over all indexes, drawing among the
    // usable ones with the same probabilities.
    // The first draw is inline: it is nearly always the last.
    template <class Usable>
    [[gnu::always_inline]] std::size_t draw(Rng& rng, Usable&& usable) const
        noexcept
    {
        std::size_t i = sample(rng);
        return usable(i) ? i : redraw(rng, usable);
    }

private:
    // draw() after its first draw missed.
    template <class Usable>
    [[gnu::noinline]] std::size_t redraw(Rng& rng, Usable& usable) const
        noexcept
    {
        for (int attempt = 1; attempt < kMaxRejections; attempt++) {
            std::size_t i = sample(rng);
            if (usable(i)) {
                return i;
            }
        }

        uint64_t total = 0;
        for (std::size_t i = 0; i < count_; i++) {
            if (usable(i)) {
                total += weights_[i];
            }
        }
        if (total == 0) {
            return npos;
        }

        // usable() may change between the passes (other workers): the
        // last usable index seen stands in if the point is not reached.
        uint64_t point = rng.below(total);
        std::size_t last = npos;
        for (std::size_t i = 0; i < count_; i++) {
            if (!usable(i)) {
                continue;
            }
            if (point < weights_[i]) {
                return i;
            }
            point -= weights_[i];
            last = i;
        }
        return last;
    }

    const AliasEntry* entries_;
    const uint32_t* weights_;
    std::size_t count_;
};

}  // namespace upstream_latency
