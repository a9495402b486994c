// The simulator's report (make bench-sim): every scenario of issue 10 with
// nginx's balancers, the module's, the oracle and the candidate rules, each
// over fixed seeds; Markdown on stdout.  Figures are medians over the seeds.
//
//   build/sim [--quick] [--seeds=N] [--per-seed] [--candidates]
//             [--only=PREFIX,...] [SCENARIO...]
//
// --quick: one seed; --seeds: seeds 1..N (3); --per-seed: each seed's
// p99, p99.9 and shares of the servers (up to 8) on stderr;
// --candidates: also the candidate rules of FINDINGS.md; --only: only the
// balancers whose names start with one of the prefixes.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "scenarios.hpp"
#include "sim.hpp"

namespace {

using namespace sim;

int seeds = 3;
bool per_seed = false;
bool with_candidates = false;
std::vector<std::string> only;

double median(std::vector<double> v)
{
    std::sort(v.begin(), v.end());
    std::size_t n = v.size();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Row {
    std::string name;
    std::vector<Result> runs;

    double figure(const std::function<double(const Result&)>& f) const
    {
        std::vector<double> v;
        for (const Result& r : runs) {
            v.push_back(f(r));
        }
        return median(v);
    }
};

bool starts_with_any(const std::string& name,
                     const std::vector<std::string>& prefixes)
{
    for (const std::string& prefix : prefixes) {
        if (name.compare(0, prefix.size(), prefix) == 0) {
            return true;
        }
    }
    return false;
}

// The standard balancers after `first`; with --candidates, the candidate
// rules too, or only those named in `subset` (by name prefix) if given.
std::vector<Policy> policies(std::vector<Policy> first,
                             const std::vector<std::string>& subset = {})
{
    for (const Policy& p : standard_policies()) {
        first.push_back(p);
    }
    if (with_candidates) {
        for (const Policy& p : candidate_policies()) {
            if (subset.empty() || starts_with_any(p.name, subset)) {
                first.push_back(p);
            }
        }
    }
    return first;
}

// Each seed's figures of one row, on stderr (--per-seed).
void print_seeds(const Row& row)
{
    for (std::size_t k = 0; k < row.runs.size(); k++) {
        const Result& r = row.runs[k];
        uint64_t total = 0;
        for (uint64_t n : r.per_server) {
            total += n;
        }
        std::fprintf(stderr, "%s, seed %zu: p99 %.2f ms, p99.9 %.2f ms",
                     row.name.c_str(), k + 1, r.p99_ms, r.p999_ms);
        if (total && r.per_server.size() <= 8) {
            std::fprintf(stderr, ", shares");
            for (uint64_t n : r.per_server) {
                std::fprintf(stderr, " %.2f%%", 100.0 * n / total);
            }
        }
        std::fprintf(stderr, "\n");
    }
}

std::vector<Row> run_all(const Scenario& s, const std::vector<Policy>& ps)
{
    std::vector<Row> rows;
    for (const Policy& p : ps) {
        if (!only.empty() && !starts_with_any(p.name, only)) {
            continue;
        }
        // the seeds in parallel: a simulation shares nothing
        Row row{p.name, std::vector<Result>(seeds)};
        std::vector<std::thread> threads;
        for (int seed = 1; seed <= seeds; seed++) {
            threads.emplace_back([&s, &p, &row, seed] {
                row.runs[seed - 1] = run(s, p, seed);
            });
        }
        for (std::thread& t : threads) {
            t.join();
        }
        if (per_seed) {
            print_seeds(row);
        }
        rows.push_back(row);
    }
    return rows;
}

const Row& find(const std::vector<Row>& rows, const std::string& name)
{
    for (const Row& r : rows) {
        if (r.name == name) {
            return r;
        }
    }
    return rows.front();
}

double share(const Result& r, std::size_t server)
{
    uint64_t total = 0;
    for (uint64_t n : r.per_server) {
        total += n;
    }
    return total ? 100.0 * r.per_server[server] / total : 0;
}

// p50, p99, p99.9, requests per second, errors, load CV, p99 against
// the reference row, and the share of one server if slow >= 0
void table(const std::vector<Row>& rows, const std::string& reference,
           int slow)
{
    const Row& ref = find(rows, reference);
    double ref_p99 = ref.figure([](const Result& r) { return r.p99_ms; });
    std::printf("| balancer | p50 ms | p99 ms | p99.9 ms | req/s | errors | "
                "load CV | p99 vs %s |%s\n"
                "|---|--:|--:|--:|--:|--:|--:|--:|%s\n",
                reference.c_str(), slow >= 0 ? " slow share |" : "",
                slow >= 0 ? "--:|" : "");
    for (const Row& row : rows) {
        double p99 = row.figure([](const Result& r) { return r.p99_ms; });
        std::printf(
            "| %s | %.1f | %.1f | %.1f | %.0f | %.2f%% | %.2f | %.2f |",
            row.name.c_str(),
            row.figure([](const Result& r) { return r.p50_ms; }), p99,
            row.figure([](const Result& r) { return r.p999_ms; }),
            row.figure([](const Result& r) {
                return r.requests / r.seconds;
            }),
            row.figure([](const Result& r) {
                return r.requests ? 100.0 * r.errors / r.requests : 0;
            }),
            row.figure([](const Result& r) { return r.load_cv; }),
            p99 / ref_p99);
        if (slow >= 0) {
            std::printf(" %.2f%% |", row.figure([slow](const Result& r) {
                return share(r, slow);
            }));
        }
        std::printf("\n");
    }
    std::printf("\n");
}

// For each balancer, the seeds whose p99 is at least 0.9 times the
// reference's in the same seed: the rounds in which the slow server was
// left out while the fast ones queued.
void slow_runs(const std::vector<Row>& rows, const std::string& reference)
{
    const Row& ref = find(rows, reference);
    std::printf("Seeds with a p99 at least 0.9 times %s's:\n\n",
                reference.c_str());
    for (const Row& row : rows) {
        int slow = 0;
        for (std::size_t k = 0; k < row.runs.size(); k++) {
            slow += row.runs[k].p99_ms >= 0.9 * ref.runs[k].p99_ms;
        }
        std::printf("- %s: %d of %zu\n", row.name.c_str(), slow,
                    row.runs.size());
    }
    std::printf("\n");
}

void issue(int instances, double jitter, bool per_worker = false,
           double stall_share = 0, double stall_ms = 0)
{
    Scenario s;
    s.servers = issue_servers();
    s.instances = instances;
    s.clients = 10;
    s.jitter_sigma = jitter;
    s.per_worker_queues = per_worker;
    s.stall_share = stall_share;
    s.stall_ms = stall_ms;
    std::printf("## Queueing servers, %d nginx instance%s%s%s\n\n"
                "Four servers of two workers blocking 4, 4, 4 and 12 ms%s; "
                "%d nginx instance%s of 2 workers; 10 closed-loop clients "
                "spread over them; service times log-normal, sigma %.2g; "
                "%.0f s after %.0f s of warm-up.",
                instances, instances > 1 ? "s" : "",
                per_worker ? ", a queue per worker" : "",
                stall_share > 0 ? ", a busy host" : "",
                per_worker ? ", each worker with a queue of its own that a "
                         "request joins at random (worker processes)"
                       : "",
                instances,
                instances > 1 ? "s, each its own table" : "", jitter,
                s.seconds - s.warmup_s, s.warmup_s);
    if (stall_share > 0) {
        std::printf("  A busy host: %.2g%% of the answers reach nginx late, "
                    "by up to %.0f ms (uniform).", 100 * stall_share,
                    stall_ms);
    }
    std::printf("\n\n");
    std::vector<Row> rows = run_all(s, policies({fast_only()}));
    table(rows, fast_only().name, 3);
    if (stall_share > 0) {
        slow_runs(rows, fast_only().name);
    }
}

void fixed(double fast_ms, double slow_ms, int workers)
{
    Scenario s;
    // echo_sleep backends: never a queue
    s.servers = {{fast_ms, 1000}, {fast_ms, 1000}, {fast_ms, 1000},
                 {slow_ms, 1000}};
    s.workers = workers;
    s.clients = 8;
    s.seconds = 9;
    Policy oracle_fast = fast_only();
    oracle_fast.name = "round robin over the fast servers only";
    oracle_fast.method = Method::round_robin;
    std::printf("## Fixed latencies %g/%g/%g/%g ms, %d worker%s\n\n"
                "Servers that never queue (as echo_sleep); 8 closed-loop "
                "clients.\n\n",
                fast_ms, fast_ms, fast_ms, slow_ms, workers,
                workers > 1 ? "s" : "");
    table(run_all(s, policies({oracle_fast})), oracle_fast.name, 3);
}

void slowdown()
{
    Scenario s;
    s.servers = {{5, 1000}, {5, 1000}, {5, 1000}, {5, 1000, 0, {{5, 100}}}};
    s.clients = 8;
    s.seconds = 9;
    s.slice_s = 0.25;
    std::printf("## A server slows down\n\nFour servers at 5 ms that never "
                "queue; the fourth turns to 100 ms at 5 s; 8 closed-loop "
                "clients.  Slow share: of the requests from the change on; "
                "first 250 ms: requests it got in the first 250 ms after "
                "the change.\n\n");
    std::vector<Row> rows = run_all(s, policies({}));
    std::printf("| balancer | p99 ms | slow share after | first 250 ms |\n"
                "|---|--:|--:|--:|\n");
    std::size_t change = static_cast<std::size_t>((5 - s.warmup_s) / 0.25);
    for (const Row& row : rows) {
        auto after = [change](const Result& r, std::size_t last) {
            double slow = 0, all = 0;
            for (std::size_t k = change;
                 k < std::min(last, r.slices.size()); k++) {
                slow += r.slices[k][3];
                for (uint32_t n : r.slices[k]) {
                    all += n;
                }
            }
            return all ? 100 * slow / all : 0;
        };
        std::printf("| %s | %.1f | %.2f%% | %.0f%% |\n", row.name.c_str(),
                    row.figure([](const Result& r) { return r.p99_ms; }),
                    row.figure([&](const Result& r) {
                        return after(r, r.slices.size());
                    }),
                    row.figure([&](const Result& r) {
                        return after(r, change + 1);
                    }));
    }
    std::printf("\n");
}

void ramp()
{
    Scenario s;
    s.servers = issue_servers();
    double capacity = 3 * 2 * 1000 / 4.0 + 2 * 1000 / 12.0;
    s.clients = 0;
    s.warmup_s = 1;
    double step_s = 3;
    for (int i = 0; i < 8; i++) {
        s.rate.push_back({s.warmup_s + i * step_s,
                          capacity * (0.5 + 0.1 * i)});
    }
    s.seconds = s.warmup_s + 8 * step_s;
    std::printf("## Overload ramp\n\nThe servers of the issue (capacity "
                "%.0f requests/s), one nginx instance of 2 workers; open "
                "loop (Poisson), offered load from 50%% to 120%% of the "
                "capacity in 3 s steps; a response after 1 s is an error.  "
                "p99 ms (errors) by offered load.\n\n| balancer |",
                capacity);
    for (int i = 0; i < 8; i++) {
        std::printf(" %d%% |", 50 + 10 * i);
    }
    std::printf("\n|---|");
    for (int i = 0; i < 8; i++) {
        std::printf("--:|");
    }
    std::printf("\n");
    for (const Row& row : run_all(s, policies({}))) {
        std::printf("| %s |", row.name.c_str());
        for (std::size_t i = 0; i < 8; i++) {
            double p99 = row.figure([i](const Result& r) {
                return r.step_p99_ms[i];
            });
            double errors = row.figure([i](const Result& r) {
                return r.step_error_share[i];
            });
            if (errors > 0.0005) {
                std::printf(" %.0f (%.1f%%) |", p99, 100 * errors);
            } else {
                std::printf(" %.0f |", p99);
            }
        }
        std::printf("\n");
    }
    std::printf("\n");
}

void fleet_report(int instances, double load, bool weighted)
{
    std::printf("## %d balancers, 200 servers%s\n\n%d nginx instances of 4 "
                "workers, each its own table, in front of 200 servers of "
                "2, 4 or 8 workers and 5 to 20 ms (log-normal jitter, sigma "
                "0.3)%s; open loop at %.0f%% of the capacity; at 6 s 20 "
                "servers slow down threefold, at 9 s 5 die, at 12 s 20 new "
                "ones join.\n\n",
                instances, weighted ? ", weight = workers" : "", instances,
                weighted ? ", each with `weight` set to its workers" : "",
                100 * load);
    // the candidates that differ elsewhere; the fleet is the costly run
    table(run_all(fleet(instances, load, 200, weighted),
                  policies({}, {"A ", "C ", "D ", "E ", "G ", "C2", "C4", "H ",
                                "I ", "J", "K"})),
          "greedy oracle", -1);
}

void join_report()
{
    Scenario plain = join_pool(0);
    std::printf("## Servers joining a loaded pool\n\n20 nginx instances of "
                "4 workers, each its own table, in front of 20 servers of 4 "
                "workers at 10 ms (log-normal jitter, sigma 0.3), offered "
                "85%% of their capacity (open loop); at %.0f s two more join "
                "(a reload).  First 100 ms: requests sent to the new "
                "servers in their first 100 ms, over their fair share; peak "
                "load: the most requests in service or waiting per worker "
                "(4 workers: 1 is full) in the second after the join, at a "
                "new server and at one of the others; p99 of the "
                "requests arriving before the join, in the 2 s after it, "
                "and after that.\n\n"
                "| balancer | slow start | first 100 ms | peak load, new | "
                "others | p99 before | p99 join | p99 after |\n"
                "|---|--:|--:|--:|--:|--:|--:|--:|\n", kJoinS);
    std::vector<Policy> nginx = {{"least_conn", Method::least_conn},
                                 {"random two least_conn",
                                  Method::random_two}};
    std::vector<Policy> module = {
        {"least_time header", Method::least_time},
        {"weighted_random two least_time=header",
         Method::weighted_random_two}};
    auto rows = [&](const std::vector<Policy>& ps, uint32_t slow_start_ms,
                    const char* label) {
        Scenario s = join_pool(slow_start_ms);
        for (const Row& row : run_all(s, ps)) {
            std::printf("| %s | %s | %.1f | %.2f | %.2f | %.1f | %.1f | "
                        "%.1f |\n",
                        row.name.c_str(), label,
                        row.figure([&s](const Result& r) {
                            return join_surge(s, r);
                        }),
                        row.figure([](const Result& r) {
                            return r.joined_peak_load;
                        }),
                        row.figure([](const Result& r) {
                            return r.pool_peak_load;
                        }),
                        row.figure([](const Result& r) {
                            return r.step_p99_ms[0];
                        }),
                        row.figure([](const Result& r) {
                            return r.step_p99_ms[1];
                        }),
                        row.figure([](const Result& r) {
                            return r.step_p99_ms[2];
                        }));
        }
    };
    rows(nginx, 0, "-");
    for (uint32_t ms : {0u, 1000u, 3000u, 10000u, 30000u}) {
        char label[16];
        std::snprintf(label, sizeof(label), ms ? "%us" : "off", ms / 1000);
        rows(module, ms, label);
    }
    std::printf("\n");
}

}  // namespace

int main(int argc, char** argv)
{
    std::vector<std::string> chosen;
    for (int i = 1; i < argc; i++) {
        if (std::strcmp(argv[i], "--quick") == 0) {
            seeds = 1;
        } else if (std::strncmp(argv[i], "--seeds=", 8) == 0) {
            seeds = std::atoi(argv[i] + 8);
            if (seeds < 1 || seeds > 64) {
                std::fprintf(stderr, "--seeds: 1 to 64\n");
                return 2;
            }
        } else if (std::strcmp(argv[i], "--per-seed") == 0) {
            per_seed = true;
        } else if (std::strcmp(argv[i], "--candidates") == 0) {
            with_candidates = true;
        } else if (std::strncmp(argv[i], "--only=", 7) == 0) {
            std::string list = argv[i] + 7;
            for (std::size_t at = 0; at <= list.size();) {
                std::size_t comma = std::min(list.find(',', at), list.size());
                only.push_back(list.substr(at, comma - at));
                at = comma + 1;
            }
        } else {
            chosen.push_back(argv[i]);
        }
    }
    auto wanted = [&](const char* name) {
        return chosen.empty()
               || std::find(chosen.begin(), chosen.end(), name)
                      != chosen.end();
    };

    std::printf("# Simulated balancers (bench/sim), %d seed%s\n\n"
                "Every figure here is simulated: the module's real core "
                "driven by a discrete-event model of queueing servers "
                "(bench/sim/sim.hpp); medians over seeds 1..%d.  Load CV: "
                "coefficient of variation of the servers' requests in "
                "flight per worker, sampled every 10 ms.\n\n",
                seeds, seeds > 1 ? "s" : "", seeds);
    // sigma 0.02: the real bench's servers, which sleep a fixed time
    if (wanted("issue")) {
        issue(1, 0.3);
        issue(1, 0.02);
    }
    if (wanted("three")) {
        issue(3, 0.3);
        issue(3, 0.02);
    }
    // worker processes: bench/capacity with BENCH_CAPACITY_QUEUES=per-worker
    if (wanted("per-worker")) {
        issue(1, 0.02, true);
        issue(3, 0.02, true);
    }
    if (wanted("stalls")) {
        issue(1, 0.02, true, 0.001, 8);
    }
    if (wanted("fixed")) {
        fixed(5, 100, 1);
        fixed(5, 100, 2);
        fixed(2, 12, 1);
        fixed(2, 12, 2);
    }
    if (wanted("slowdown")) {
        slowdown();
    }
    if (wanted("ramp")) {
        ramp();
    }
    if (wanted("join")) {
        join_report();
    }
    if (wanted("fleet")) {
        fleet_report(20, 0.7, false);
    }
    if (wanted("fleet-weighted")) {
        fleet_report(20, 0.7, true);
    }
    return 0;
}
