// A discrete-event simulation of balancers in front of queueing servers,
// driving the module's real core (src/core: observe, score,
// pick_least_score, first_is_better, PeakEwma, InflightCells, PeerSlot,
// WeightedSampler) with simulated time and seeded randomness, exactly as
// the nginx shim passes them in.  Nothing here reads a clock: a
// configuration and a seed give the same figures on every machine.
//
// The model:
//   server    `workers` requests served at once, the others wait in one
//             FIFO queue (or, per_worker_queues, in the queue of one
//             worker drawn at random); a service takes service_ms (times
//             a log-normal jitter if asked); it can change speed, die
//             (refuse at once) or join the pool at given times (a reload
//             of every instance: the module's table marks it joining).
//   instance  one nginx: `workers` worker processes, each with its own
//             round-robin weights, connection counts (without `zone`) and
//             random generator; the module's latency table is shared by
//             the workers of an instance, never between instances.
//   clients   closed loop (each client bound to one worker of one
//             instance, as a keep-alive connection is) or open loop
//             (Poisson arrivals at a rate that may ramp, spread at random).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/selection.hpp"

namespace sim {

enum class Method {
    round_robin,     // nginx's smooth weighted round robin
    least_conn,      // nginx's least_conn
    random_two,      // nginx's random two least_conn
    nginx_least_time,  // nginx 1.31's least_time header (20 ms buckets)
    least_time,      // the module's least_time header, its real core
    weighted_random_two,  // the module's weighted_random two least_time=header
    variant,         // a candidate policy, see Variant
    oracle,          // greedy: the least expected time of this request,
                     // from every server's true queue and speed
};

// How a candidate policy turns what a balancer saw into a choice.
enum class Rule {
    product,     // latency * (1 + active / weight), as score() does
    hot_cold,    // Prequal: servers whose active count is above a quantile
                 // of the pool's are hot; the coldest class first, then the
                 // least latency (all hot: fewest active)
};

// A candidate policy for item 3 of issue 10: the module's selection with
// one or more parts changed.  Defaults reproduce least_time.
struct Variant {
    Rule rule = Rule::product;
    double upward_weight = 1.0;     // weight of a sample above the estimate
    double downward_weight = 0.25;  // and below it (PeakEwma: 1 and 1/4)
    // weight of a sample above the estimate when its request found others
    // in flight at dispatch (the estimate moves less under load)
    double loaded_upward_weight = 1.0;
    // Divide each sample by (1 + active at dispatch / weight): the estimate
    // is then of the time one request takes alone, and the score's
    // (1 + active / weight) counts the queue once instead of twice.
    bool per_request = false;
    double hot_quantile = 0.75;     // hot_cold: the quantile of active
    int choices = 0;                // 0: every server; d: the best of d
                                    // drawn at random (2: weighted_random two)
    bool worker_inflight = false;   // active from this worker's requests only
    double tie_factor = upstream_latency::kTieFactor;  // scores within it tie
    // the estimate's decay: held for a half-life after a sample, then
    // halving every half-life, as Decay does since candidate J; false:
    // halving from the sample on (the rule before J)
    bool hold = true;
    uint32_t half_life_ms = 0;  // 0: the scenario's
};

struct Policy {
    std::string name;
    Method method;
    bool zone = false;  // nginx's balancers: counts shared by the workers
    Variant variant{};
    // only these servers (the "fast only" reference); empty: all
    std::vector<int> subset{};
};

struct SpeedChange {
    double at_s;
    double service_ms;  // new mean service time; 0: the server dies
};

struct Server {
    double service_ms;
    int workers;
    double join_s = 0;  // joins the pool (nginx reload) at this time
    std::vector<SpeedChange> changes{};
    uint32_t weight = 1;  // nginx's server weight
};

struct RateStep {
    double from_s;
    double per_s;  // offered requests per second from this time on
};

struct Scenario {
    std::vector<Server> servers;
    int instances = 1;
    int workers = 2;           // worker processes per instance
    int clients = 0;           // closed loop; 0: open loop at `rate`
    std::vector<RateStep> rate{};
    double seconds = 8;
    double warmup_s = 1;       // requests started before are not counted
    double jitter_sigma = 0;   // log-normal sigma of service times
    // every worker of a server has its own queue, which a request joins
    // at random (a keep-alive connection stays with the worker process
    // that accepted it); false: one queue per server (a thread pool)
    bool per_worker_queues = false;
    double network_ms = 0.1;   // balancer to server and back
    // a busy host: this share of the answers reaches the balancer (and
    // its client) late, by up to stall_ms (uniform), as when the nginx
    // worker waits for a core; the server is free at once
    double stall_share = 0;
    double stall_ms = 0;
    double timeout_s = 1;      // a response later than this is an error
    uint32_t half_life_ms = 1000;
    uint32_t slow_start_ms = 0;  // the module's upstream_latency_slow_start
    uint32_t fail_timeout_s = 10;
    double slice_s = 0;        // >0: requests per server per slice
};

struct Result {
    std::string policy;
    uint64_t requests = 0;   // completed after the warm-up, errors included
    uint64_t errors = 0;     // refused everywhere, or later than timeout_s
    double seconds = 0;      // measured time (after the warm-up)
    double p50_ms = 0, p99_ms = 0, p999_ms = 0, mean_ms = 0;
    // coefficient of variation of each server's requests in flight per
    // worker, sampled every 10 ms over the servers in the pool
    double load_cv = 0;
    // the most requests in service or waiting per worker (sampled every
    // 10 ms) in the second after the last join, at a server that joined
    // then, and at one that was there before
    double joined_peak_load = 0;
    double pool_peak_load = 0;
    std::vector<uint64_t> per_server;          // requests sent after warm-up
    std::vector<std::vector<uint32_t>> slices;  // [slice][server]
    // percentiles by rate step (open loop): p99 and errors per step
    std::vector<double> step_p99_ms;
    std::vector<double> step_error_share;
    std::vector<double> step_offered;
};

Result run(const Scenario& scenario, const Policy& policy, uint64_t seed);

}  // namespace sim
