#include "selection.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace upstream_latency {

std::size_t pick_least_score(const Candidate* candidates, std::size_t count,
                             double least, int64_t* current_weights) noexcept
{
    double limit = tie_limit(least, kNoiseFloorUs);
    double fewest = HUGE_VAL;

    for (std::size_t i = 0; i < count; i++) {
        if (candidates[i].score <= limit) {
            fewest = std::min(fewest, candidates[i].busy);
        }
    }

    std::size_t best = 0;
    int64_t best_weight = INT64_MIN;
    int64_t total = 0;

    for (std::size_t i = 0; i < count; i++) {
        const Candidate& c = candidates[i];
        if (c.score > limit || c.busy > fewest) {
            continue;
        }
        int64_t weight = current_weights[c.peer] + c.weight;
        current_weights[c.peer] = weight;
        total += c.weight;
        if (weight > best_weight) {
            best_weight = weight;
            best = i;
        }
    }

    current_weights[candidates[best].peer] -= total;
    return best;
}

std::size_t pick_least_score(const Candidate* candidates, std::size_t count,
                             int64_t* current_weights) noexcept
{
    double least = candidates[0].score;
    for (std::size_t i = 1; i < count; i++) {
        least = std::min(least, candidates[i].score);
    }
    return pick_least_score(candidates, count, least, current_weights);
}

bool first_is_better(const Candidate& first, const Candidate& second,
                     double floor, Rng& rng) noexcept
{
    if (tie_limit(first.score, floor) < second.score) {
        return true;
    }
    if (tie_limit(second.score, floor) < first.score) {
        return false;
    }
    if (first.busy != second.busy) {
        return first.busy < second.busy;
    }
    return rng.coin();
}

}  // namespace upstream_latency
