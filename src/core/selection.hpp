// Choosing the peer with the least expected time for a new request.
#pragma once

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "latency_table.hpp"
#include "peak_ewma.hpp"
#include "rng.hpp"

namespace upstream_latency {

// What the balancer knows about one peer at the moment of a choice.
struct PeerLoad {
    double latency_us;  // 0 when unknown and nothing in flight
    uint32_t active;    // requests in flight, all worker processes
};

struct LoadOptions {
    Metric metric;
    bool inflight;  // count the waiting time of requests still in flight
    Decay decay;
};

// Whether a selection reads the waiting times of a peer's requests in
// flight, the peer's estimate (packed PeakEwma) being estimate: with
// options.inflight, or while the peer has no sample yet.  A request that
// starts when they are not read need not be counted as waiting.
inline bool reads_waiting(LoadOptions options, uint64_t estimate) noexcept
{
    return options.inflight || !PeakEwma::measured(estimate);
}

// What a selection knows of a peer from its estimate (packed PeakEwma) and
// its requests in flight.  Latency is the decayed estimate; with
// options.inflight, or while the peer has no sample yet, it is at least the
// mean time its requests awaiting a response header have waited so far;
// at now_ms, monotonic milliseconds.
inline PeerLoad observe_ms(uint64_t estimate, Inflight inflight,
                           LoadOptions options, uint64_t now_ms) noexcept
{
    double latency = PeakEwma::read_ms(estimate, now_ms, options.decay);
    if (reads_waiting(options, estimate)) {
        latency = std::max(latency, inflight.mean_wait_us);
    }
    return {latency, inflight.active};
}

// The same at now_us.
inline PeerLoad observe(uint64_t estimate, Inflight inflight,
                        LoadOptions options, uint64_t now_us) noexcept
{
    return observe_ms(estimate, inflight, options, now_us / 1000);
}

// The same from the peer's slot.
inline PeerLoad observe(const PeerSlot& slot, Inflight inflight,
                        LoadOptions options, uint64_t now_us) noexcept
{
    return observe(
        slot.estimate(options.metric).load(std::memory_order_relaxed),
        inflight, options, now_us);
}

// The same for the slot at index of a table at now_ms (monotonic
// milliseconds), its requests in flight summed over the worker processes;
// the estimate read once.
[[gnu::always_inline]] inline PeerLoad observe_ms(const TableView& table,
                                                  uint32_t index,
                                                  LoadOptions options,
                                                  uint64_t now_ms) noexcept
{
    uint64_t estimate = table.estimate_of(index);
    const InflightCell* cells = table.cells_of(index);
    Inflight inflight;

    if (reads_waiting(options, estimate)) {
        inflight = InflightCells::read_ms(cells, table.workers, now_ms);
    } else {
        inflight = {InflightCells::active(cells, table.workers), 0, 0.0};
    }

    return observe_ms(estimate, inflight, options, now_ms);
}

// The same at now_us.
inline PeerLoad observe(const LatencyTable& table, uint32_t index,
                        LoadOptions options, uint64_t now_us) noexcept
{
    return observe_ms(TableView(table, options.metric), index, options,
                      now_us / 1000);
}

// The jitter of one response on a busy host (on a loaded 2-core machine,
// responses of 0.3 ms vary up to 1.7 ms).
inline constexpr double kNoiseFloorUs = 1000;

// The latency a score counts: at least kNoiseFloorUs.
inline double floored_latency(PeerLoad load) noexcept
{
    return std::max(load.latency_us, kNoiseFloorUs);
}

// Expected time for one more request: latency * (1 + active / weight),
// the latency at least kNoiseFloorUs: below it a latency is noise, and an
// estimate that decayed to next to nothing must not hide a queue.  Weight
// acts as capacity: a peer of weight 2 takes twice the concurrent requests
// before it looks as busy as a peer of weight 1.
inline double score(PeerLoad load, uint32_t weight) noexcept
{
    double latency = floored_latency(load);
    if (load.active == 0) {
        return latency;  // the factor is 1: no division
    }
    return latency
           * (1.0 + static_cast<double>(load.active) / std::max(weight, 1u));
}

// Requests in flight per weight: what settles scores that tie.
inline double busy(PeerLoad load, uint32_t weight) noexcept
{
    return static_cast<double>(load.active) / std::max(weight, 1u);
}

// What a measured time says of the peer's time for one request alone: the
// time divided by (1 + active / weight), active being the requests the
// peer had in flight (all workers) when this one was sent.  Recording
// this, not the raw time, counts queueing once, by score()'s factor at the
// next choice, instead of twice (in the latency it inflated, then again by
// the factor), which under load drove requests to slower, idle peers.
// Failure penalties (failure_sample_us) are recorded as they are.
inline uint64_t per_request_sample(uint64_t elapsed_us, uint32_t active,
                                   uint32_t weight) noexcept
{
    if (active == 0) {
        return elapsed_us;  // the factor is 1: no division
    }
    return static_cast<uint64_t>(
        static_cast<double>(elapsed_us)
        / (1.0 + static_cast<double>(active) / std::max(weight, 1u)));
}

// Weight of a faster time below the estimate when its request found
// others in flight.  Divided by the load, such a time is a guess: which
// worker's queue the request waited in, and behind how many, is unknown
// (a server of worker processes queues each request behind its own
// process's, whatever the others do), and these times scatter from
// 1 / (1 + active) of the time alone to all of it.  Moving by a quarter,
// the estimate followed the lucky ones, identical servers looked up to
// twice as fast as each other, and the one that looked fastest piled up
// requests; at 1/64 it keeps near the top of the scatter, the time one
// request takes alone.  A time measured alone moves it by kDownwardWeight.
inline constexpr double kLoadedDownwardWeight = 1.0 / 64;

// Records the time an attempt took (exact, or a lower bound when it was
// cut short) into one of the peer's estimates, per request: divided by the
// load it found at dispatch, found_active of the peer's requests in flight
// over all workers.  Failure penalties go to PeakEwma::record as they are.
// Inline, as PeakEwma::record.
[[gnu::always_inline]] inline void record_per_request(
    std::atomic<uint64_t>& estimate, uint64_t elapsed_us,
    uint32_t found_active, uint32_t weight, SampleKind kind, uint64_t now_us,
    Decay decay) noexcept
{
    PeakEwma::record(estimate,
                     per_request_sample(elapsed_us, found_active, weight),
                     kind, now_us, decay,
                     found_active == 0 ? kDownwardWeight
                                       : kLoadedDownwardWeight);
}

// Scores this close to the lowest count as equal, so that peers of nearly
// the same speed share traffic instead of flapping: within 1/8 of it, or
// within kNoiseFloorUs, so that identical servers are not told apart by
// noise.  2 ms against 12 ms stays a clear difference.
inline constexpr double kTieFactor = 1.125;

// The highest score that ties with least, for scores in microseconds (the
// floor) or in requests per weight (least_conn: floor 0).
inline double tie_limit(double least, double floor) noexcept
{
    return std::max(least * kTieFactor, least + floor);
}

struct Candidate {
    uint32_t peer;    // index into the tie-break weights
    uint32_t weight;  // its share of the ties
    double score;
    double busy = 0;  // busy(): among ties, the least comes first
    // the latency the score was built on (score() is it times 1 + busy);
    // among ties, the fastest come first
    double latency = score / (1.0 + busy);
};

// The candidate of a peer of weight with load, taking tie_weight of the
// ties: score(), busy() and floored_latency() at once.
inline Candidate scored(uint32_t peer, uint32_t tie_weight, PeerLoad load,
                        uint32_t weight) noexcept
{
    double latency = floored_latency(load);
    if (load.active == 0) {
        return {peer, tie_weight, latency, 0, latency};
    }
    double busy = static_cast<double>(load.active) / std::max(weight, 1u);
    return {peer, tie_weight, latency * (1.0 + busy), busy, latency};
}

// Index into candidates of the lowest score, least, which the caller
// found while scoring them.  Among the scores that tie:
//
// - When fewer than half of the candidates are idle, the fastest come
//   first: those whose latency ties the least latency among the ties.
//   A fast server with a request in flight is then not left for a slow
//   idle one (6 ms times 2 against 12 ms: the slow one's every answer is
//   the fast one's worst case).  Behind three nginx, each seeing a third
//   of the requests in flight, such ties sent 3-5% of the requests to a
//   server three times slower (bench/sim/FINDINGS.md, candidates L, L2).
//   When most candidates are idle, a busy one is the exception, as a
//   "hot" server is in Prequal (requests in flight above the quantile):
//   in front of many servers its requests in flight may be the start of
//   a queue other balancers add to, and speed does not come first.
// - Then the fewest requests in flight per weight, as with least_conn:
//   below the tie floor the score cannot tell a peer with a queue from an
//   idle one (a decayed estimate under a burst; a backlog other balancers
//   left that no answer has shown yet).
// - The rest is settled by smooth weighted round robin over
//   current_weights, kept per worker and indexed by Candidate::peer.
//
// count must be at least 1, idle the candidates whose busy is 0.  Inline:
// least_time's every choice ends here.
[[gnu::always_inline]] inline std::size_t pick_least_score(
    const Candidate* candidates, std::size_t count, double least,
    std::size_t idle, int64_t* current_weights) noexcept
{
    double limit = tie_limit(least, kNoiseFloorUs);
    double fastest = HUGE_VAL;
    bool busy_ties = false;

    // all idle: the ties are those within limit (below)
    if (idle < count) {
        for (std::size_t i = 0; i < count; i++) {
            if (candidates[i].score <= limit) {
                fastest = std::min(fastest, candidates[i].latency);
                busy_ties |= candidates[i].busy > 0;
            }
        }
    }

    double fast_limit = 2 * idle >= count ? HUGE_VAL
                                          : tie_limit(fastest, kNoiseFloorUs);

    // idle ties all pass: their latency is their score, and the fastest
    // of them has the least score
    double fewest = 0;

    if (busy_ties) {
        fewest = HUGE_VAL;
        for (std::size_t i = 0; i < count; i++) {
            if (candidates[i].score <= limit
                && candidates[i].latency <= fast_limit)
            {
                fewest = std::min(fewest, candidates[i].busy);
            }
        }
    }

    std::size_t best = 0;
    int64_t best_weight = INT64_MIN;
    int64_t total = 0;

    for (std::size_t i = 0; i < count; i++) {
        const Candidate& c = candidates[i];
        if (c.score > limit || c.busy > fewest || c.latency > fast_limit) {
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

// The same, finding the least score and the idle candidates.
std::size_t pick_least_score(const Candidate* candidates, std::size_t count,
                             int64_t* current_weights) noexcept;

// The better of two scored peers (the power of two choices); scores that
// tie (tie_limit with floor) are settled by latency, then busy, then a
// coin: two drawn servers do not tell whether most of the pool is idle
// (pick_least_score), and the fastest first won both behind three nginx
// and in the simulated fleet.
inline bool first_is_better(const Candidate& first, const Candidate& second,
                            double floor, Rng& rng) noexcept
{
    if (tie_limit(first.score, floor) < second.score) {
        return true;
    }
    if (tie_limit(second.score, floor) < first.score) {
        return false;
    }
    if (tie_limit(first.latency, floor) < second.latency) {
        return true;
    }
    if (tie_limit(second.latency, floor) < first.latency) {
        return false;
    }
    if (first.busy != second.busy) {
        return first.busy < second.busy;
    }
    return rng.coin();
}

}  // namespace upstream_latency
