#include "selection.hpp"

#include <algorithm>
#include <cstdint>

namespace upstream_latency {

std::size_t pick_least_score(const Candidate* candidates, std::size_t count,
                             int64_t* current_weights) noexcept
{
    double least = candidates[0].score;
    std::size_t idle = 0;
    for (std::size_t i = 0; i < count; i++) {
        least = std::min(least, candidates[i].score);
        idle += candidates[i].busy == 0;
    }
    return pick_least_score(candidates, count, least, idle, current_weights);
}

}  // namespace upstream_latency
