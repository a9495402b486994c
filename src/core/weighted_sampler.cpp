#include "weighted_sampler.hpp"

#include <vector>

namespace upstream_latency {

void WeightedSampler::build(const uint32_t* weights, std::size_t count,
                            AliasEntry* entries)
{
    uint64_t total = 0;
    for (std::size_t i = 0; i < count; i++) {
        total += weights[i];
    }

    // Each index's share of an equal column, as a multiple of the column.
    std::vector<double> share(count);
    std::vector<uint32_t> small, large;
    for (std::size_t i = 0; i < count; i++) {
        share[i] = static_cast<double>(weights[i]) * count / total;
        (share[i] < 1.0 ? small : large).push_back(static_cast<uint32_t>(i));
    }

    auto threshold = [](double p) {
        return p >= 1.0 ? UINT32_MAX : static_cast<uint32_t>(p * 4294967296.0);
    };

    // Vose: fill each small column from a large one.
    while (!small.empty() && !large.empty()) {
        uint32_t s = small.back();
        uint32_t l = large.back();
        small.pop_back();
        entries[s] = {threshold(share[s]), l};
        share[l] -= 1.0 - share[s];
        if (share[l] < 1.0) {
            large.pop_back();
            small.push_back(l);
        }
    }
    // What is left is full up to rounding.
    for (uint32_t i : large) {
        entries[i] = {UINT32_MAX, i};
    }
    for (uint32_t i : small) {
        entries[i] = {UINT32_MAX, i};
    }
}

}  // namespace upstream_latency
