#include "scenarios.hpp"

#include <cmath>

#include "core/rng.hpp"

namespace sim {

std::vector<Server> issue_servers()
{
    return {{4, 2}, {4, 2}, {4, 2}, {12, 2}};
}

std::vector<Policy> standard_policies()
{
    return {
        {"round robin", Method::round_robin},
        {"least_conn", Method::least_conn},
        {"random two least_conn", Method::random_two},
        {"least_conn, zone", Method::least_conn, true},
        {"nginx 1.31 least_time header, zone", Method::nginx_least_time,
         true},
        {"least_time header", Method::least_time},
        {"weighted_random two least_time=header",
         Method::weighted_random_two},
        {"greedy oracle", Method::oracle},
    };
}

Policy fast_only()
{
    return {"least_conn over the fast servers only", Method::least_conn,
            false, {}, {0, 1, 2}};
}

std::vector<Policy> candidate_policies()
{
    Variant peak;                  // the rule before C, in the study's code
    peak.hold = false;             // and before J: decaying from the sample
    Variant ewma = peak;           // no peak: a slow sample moves 1/4 too
    ewma.upward_weight = 0.25;
    Variant per_request = peak;    // samples divided by (1 + active then)
    per_request.per_request = true;
    Variant per_request_ewma = per_request;
    per_request_ewma.upward_weight = 0.25;
    Variant hot_cold = peak;       // Prequal's rule
    hot_cold.rule = Rule::hot_cold;
    Variant hot_cold_ewma = hot_cold;
    hot_cold_ewma.upward_weight = 0.25;
    Variant per_request_two = per_request;
    per_request_two.choices = 2;
    Variant per_request_ewma_two = per_request_ewma;
    per_request_ewma_two.choices = 2;
    Variant hot_cold_two = hot_cold;
    hot_cold_two.choices = 2;
    Variant per_request_three = per_request;
    per_request_three.choices = 3;
    Variant per_request_four = per_request;
    per_request_four.choices = 4;
    Variant per_request_wide = per_request;
    per_request_wide.tie_factor = 1.5;
    Variant per_request_wider = per_request;
    per_request_wider.tie_factor = 2;
    Variant per_request_half_up = per_request;
    per_request_half_up.loaded_upward_weight = 0.5;
    Variant per_request_quarter_up = per_request;
    per_request_quarter_up.loaded_upward_weight = 0.25;
    Variant worker = per_request;
    worker.worker_inflight = true;
    Variant hold = per_request;    // the estimate held a half-life (Decay)
    hold.hold = true;
    Variant slower = per_request;  // a longer half-life
    slower.half_life_ms = 3000;
    Variant slowest = per_request;
    slowest.half_life_ms = 5000;

    return {
        {"A  peak, product (the rule before C)", Method::variant, false, peak},
        {"B  ewma 1/4, product", Method::variant, false, ewma},
        {"C  peak, per-request, product", Method::variant, false,
         per_request},
        {"D  ewma 1/4, per-request, product", Method::variant, false,
         per_request_ewma},
        {"E  peak, hot/cold q=0.75", Method::variant, false, hot_cold},
        {"F  ewma 1/4, hot/cold q=0.75", Method::variant, false,
         hot_cold_ewma},
        {"G  C with this worker's inflight", Method::variant, false, worker},
        {"C2 C, two choices", Method::variant, false, per_request_two},
        {"D2 D, two choices", Method::variant, false, per_request_ewma_two},
        {"E2 E, two choices", Method::variant, false, hot_cold_two},
        {"C3 C, best of three", Method::variant, false, per_request_three},
        {"C4 C, best of four", Method::variant, false, per_request_four},
        {"Ct C, ties within 1.5", Method::variant, false, per_request_wide},
        {"Cu C, ties within 2", Method::variant, false, per_request_wider},
        {"H  C, loaded peak 1/2", Method::variant, false,
         per_request_half_up},
        {"I  C, loaded peak 1/4", Method::variant, false,
         per_request_quarter_up},
        {"J  C, estimate held a half-life, then halving (least_time)",
         Method::variant, false, hold},
        {"K3 C, half-life 3 s, not held", Method::variant, false, slower},
        {"K5 C, half-life 5 s, not held", Method::variant, false, slowest},
    };
}

Scenario fleet(int instances, double load, int servers,
               bool weight_by_workers)
{
    upstream_latency::Rng rng(20261201);
    Scenario s;
    double capacity = 0;
    for (int i = 0; i < servers; i++) {
        int workers = 2 << rng.below(3);  // 2, 4 or 8
        // 5 to 20 ms, log-uniform
        double service_ms = 5 * std::exp2(2.0 * rng.below(1000) / 1000);
        Server server{service_ms, workers};
        if (weight_by_workers) {
            server.weight = static_cast<uint32_t>(workers);
        }
        if (i >= servers - servers / 10) {
            server.join_s = 12;
        } else {
            capacity += workers * 1000 / service_ms;
        }
        if (i % 10 == 3) {
            server.changes.push_back({6, 3 * service_ms});
        }
        if (i % 36 == 7) {
            server.changes.push_back({9, 0});
        }
        s.servers.push_back(server);
    }
    s.instances = instances;
    s.workers = 4;
    s.rate = {{0, load * capacity}};
    s.seconds = 16;
    s.warmup_s = 2;
    s.jitter_sigma = 0.3;
    return s;
}

Scenario join_pool(uint32_t slow_start_ms)
{
    Scenario s;
    for (int i = 0; i < 22; i++) {
        s.servers.push_back({10, 4, i < 20 ? 0 : kJoinS});
    }
    double rate = 0.85 * 20 * 4 * 1000 / 10.0;
    s.instances = 20;
    s.workers = 4;
    s.rate = {{0, rate}, {kJoinS, rate}, {kJoinS + 2, rate}};
    s.seconds = 10;
    s.warmup_s = 2;
    s.jitter_sigma = 0.3;
    s.slice_s = 0.1;
    s.slow_start_ms = slow_start_ms;
    return s;
}

double join_surge(const Scenario& scenario, const Result& result)
{
    auto slice = static_cast<std::size_t>(
        std::lround((kJoinS - scenario.warmup_s) / scenario.slice_s));
    if (slice >= result.slices.size()) {
        return 0;
    }
    double all = 0, joined = 0, joined_capacity = 0, capacity = 0;
    for (std::size_t i = 0; i < scenario.servers.size(); i++) {
        const Server& server = scenario.servers[i];
        double c = server.workers / server.service_ms;
        uint32_t n = result.slices[slice][i];
        all += n;
        capacity += c;
        if (server.join_s > 0) {
            joined += n;
            joined_capacity += c;
        }
    }
    return all > 0 ? joined / (all * joined_capacity / capacity) : 0;
}

}  // namespace sim
