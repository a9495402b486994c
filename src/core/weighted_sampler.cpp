#include "weighted_sampler.hpp"

#include <vector>

namespace upstream_latency {

void WeightedSampler::build(const uint32_t* weights, std::size_t count,
                            AliasEntry* entries)
{
    std::vector<double> share(count);
    std::vector<uint32_t> work(count);
    build(weights, count, entries, share.data(), work.data());
}

void WeightedSampler::build(const uint32_t* weights, std::size_t count,
                            AliasEntry* entries, double* share,
                            uint32_t* work) noexcept
{
    uint64_t total = 0;
    for (std::size_t i = 0; i < count; i++) {
        total += weights[i];
    }

    // Each index's share of an equal column, as a multiple of the column;
    // two stacks in work: the small columns from its start, the large
    // ones from its end.
    std::size_t small = 0, large = count;
    for (std::size_t i = 0; i < count; i++) {
        share[i] = static_cast<double>(weights[i]) * count / total;
        work[share[i] < 1.0 ? small++ : --large] = static_cast<uint32_t>(i);
    }

    auto threshold = [](double p) {
        return p >= 1.0 ? UINT32_MAX : static_cast<uint32_t>(p * 4294967296.0);
    };

    // Vose: fill each small column from a large one.
    while (small > 0 && large < count) {
        uint32_t s = work[--small];
        uint32_t l = work[large];
        entries[s] = {threshold(share[s]), l};
        share[l] -= 1.0 - share[s];
        if (share[l] < 1.0) {
            large++;
            work[small++] = l;
        }
    }
    // What is left is full up to rounding.
    for (std::size_t k = 0; k < small; k++) {
        entries[work[k]] = {UINT32_MAX, work[k]};
    }
    for (std::size_t k = large; k < count; k++) {
        entries[work[k]] = {UINT32_MAX, work[k]};
    }
}

}  // namespace upstream_latency
