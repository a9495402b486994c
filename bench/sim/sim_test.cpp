// What the simulator guards in the module's real core, with fixed seeds:
// the properties issue 10 asks to keep (within 5% of the oracle on
// fixed-latency servers, the instant reaction to a server that slows down)
// and those it asks for under queueing (better than least_conn, no
// herding with many balancers).  The tolerances are stated in each test;
// a run is deterministic, so they only absorb changes of the policy.

#include <gtest/gtest.h>

#include "sim/scenarios.hpp"
#include "sim/sim.hpp"

namespace sim {
namespace {

constexpr uint64_t kSeed = 7;

Policy module_least_time() { return {"least_time", Method::least_time}; }

Policy module_two()
{
    return {"weighted_random two", Method::weighted_random_two};
}

// 5/5/5/100 ms servers that never queue, 8 closed-loop clients
Scenario fixed_latencies(int workers)
{
    Scenario s;
    s.servers = {{5, 1000}, {5, 1000}, {5, 1000}, {100, 1000}};
    s.workers = workers;
    s.clients = 8;
    s.seconds = 6;
    return s;
}

TEST(Simulator, IsReproducible)
{
    Scenario s;
    s.servers = issue_servers();
    s.clients = 10;
    s.seconds = 3;
    s.jitter_sigma = 0.3;
    Result a = run(s, module_two(), kSeed);
    Result b = run(s, module_two(), kSeed);
    Result c = run(s, module_two(), kSeed + 1);
    EXPECT_EQ(a.per_server, b.per_server);
    EXPECT_EQ(a.p99_ms, b.p99_ms);
    EXPECT_NE(a.per_server, c.per_server);
}

// A busy host delays answers on their way to nginx by up to stall_ms, the
// server free at once: with every answer 0 to 8 ms late (uniform), the
// median grows by about 4 ms and the p99 by nearly 8 (tolerance: 1 ms).
TEST(Simulator, StallsDelayTheAnswers)
{
    Scenario s = fixed_latencies(1);
    Policy fast{"fast only", Method::round_robin, false, {}, {0, 1, 2}};
    Result quiet = run(s, fast, kSeed);
    s.stall_share = 1;
    s.stall_ms = 8;
    Result busy = run(s, fast, kSeed);
    EXPECT_NEAR(busy.p99_ms - quiet.p99_ms, 8, 1);
    EXPECT_NEAR(busy.p50_ms - quiet.p50_ms, 4, 1);
}

// Tolerance: 5% of the oracle's p99 (round robin over the fast three).
TEST(FixedLatencies, TailWithinFivePercentOfTheOracle)
{
    for (int workers : {1, 2}) {
        Scenario s = fixed_latencies(workers);
        Policy oracle{"fast only", Method::round_robin, false, {}, {0, 1, 2}};
        double best = run(s, oracle, kSeed).p99_ms;
        for (const Policy& p : {module_least_time(), module_two()}) {
            EXPECT_LE(run(s, p, kSeed).p99_ms, 1.05 * best)
                << p.name << ", " << workers << " workers";
        }
    }
}

// The fourth server turns from 5 to 100 ms at 3 s.  Tolerance: under 1%
// of the requests after the change go to it (least_conn sends 1.7%).
TEST(SlowDown, SlowServerIsLeftAtOnce)
{
    Scenario s;
    s.servers = {{5, 1000}, {5, 1000}, {5, 1000}, {5, 1000, 0, {{3, 100}}}};
    s.clients = 8;
    s.seconds = 6;
    s.slice_s = 3 - s.warmup_s;  // slice 1 starts at the change
    for (const Policy& p : {module_least_time(), module_two()}) {
        Result r = run(s, p, kSeed);
        ASSERT_GE(r.slices.size(), 2u);
        double all = 0;
        for (uint32_t n : r.slices[1]) {
            all += n;
        }
        EXPECT_LT(r.slices[1][3], 0.01 * all) << p.name;
    }
}

// The servers of issue 10 (4, 4, 4 and 12 ms, two workers each), 10
// closed-loop clients, in front of `instances` nginx.
Scenario issue_scenario(int instances, double jitter_sigma = 0.3)
{
    Scenario s;
    s.servers = issue_servers();
    s.instances = instances;
    s.clients = 10;
    s.seconds = 5;
    s.jitter_sigma = jitter_sigma;
    return s;
}

double slow_share(const Result& r)
{
    double all = 0;
    for (uint64_t n : r.per_server) {
        all += n;
    }
    return r.per_server[3] / all;
}

// One nginx.  Tolerance: p99 at most 0.8 of least_conn's (today about 0.6).
TEST(QueueingServers, TailBelowLeastConn)
{
    Scenario s = issue_scenario(1);
    double least_conn = run(s, {"least_conn", Method::least_conn}, kSeed)
                            .p99_ms;
    for (const Policy& p : {module_least_time(), module_two()}) {
        EXPECT_LE(run(s, p, kSeed).p99_ms, 0.8 * least_conn) << p.name;
    }
}

// The floor here is the fast-only balancer's p99 (the greedy oracle equals
// it): 10 clients on 8 worker slots, so either the 12 ms server takes over
// 1% of the requests or the fast ones hold them all.  Counting queueing
// twice sent the slow server 6% of them (p99 1.4 times the floor).
// Tolerance: least_time within 10% of the fast-only p99 (seed 7: 1.04
// with one nginx, 0.93 with three), under 1.5% of the requests to the slow
// server (0.10%, 0.45%; decaying from the sample on: 0.30%, 1.22%;
// counting queueing twice: 6.7%, 2.9%), at least 99% of fast-only's
// requests (1.00, 1.02).
TEST(QueueingServers, LeastTimeQueuesOnTheFastServersNotTheSlowOne)
{
    for (int instances : {1, 3}) {
        Scenario s = issue_scenario(instances);
        Result fast = run(s, fast_only(), kSeed);
        Result r = run(s, module_least_time(), kSeed);
        EXPECT_LE(r.p99_ms, 1.10 * fast.p99_ms) << instances << " nginx";
        EXPECT_LT(slow_share(r), 0.015) << instances << " nginx";
        EXPECT_GE(r.requests, 0.99 * fast.requests) << instances << " nginx";
    }
}

// The same servers answering in a fixed time (sigma 0.02), as the real
// bench's do: the fast-only p99 is then below the slow server's 12 ms, so
// every request the slow one takes beyond 1% is in the tail.  Behind three
// nginx, each hearing a third of the answers, a fast server with one
// request in flight scored as the slow idle one (6 ms times 2 against 12)
// and the tie went to the idle one: seed 7, 2.9% of the requests, p99
// 1.22 times fast-only (the real bench: 3-5%, 1.2-1.4).  Tolerance: p99
// at most 1.02 times fast-only's, as the greedy oracle's with one nginx
// (seed 7: 0.82 with three nginx, 1.015 with one), under 1% of the
// requests to the slow server (0.15%, 0.03%).
TEST(QueueingServers, FixedTimesLeastTimeKeepsTheSlowServerOutOfTheTail)
{
    for (int instances : {1, 3}) {
        Scenario s = issue_scenario(instances, 0.02);
        Result fast = run(s, fast_only(), kSeed);
        Result r = run(s, module_least_time(), kSeed);
        EXPECT_LE(r.p99_ms, 1.02 * fast.p99_ms) << instances << " nginx";
        EXPECT_LT(slow_share(r), 0.01) << instances << " nginx";
    }
}

// The same servers as worker processes, each worker with a queue of its
// own that a request joins at random (bench/capacity with
// BENCH_CAPACITY_QUEUES=per-worker, as the issue's backends were): a
// fast server's requests then wait behind 0 to all of its requests in
// flight, the fast-only p99 is 16 ms, and the idle 12 ms server is worth
// its capacity.  Times per request scatter; an estimate that followed
// them (moving by a quarter) piled requests on whichever fast server
// looked fastest and left the slow one idle: seed 7, one nginx, p99 1.01
// times fast-only, the slow server 0.14%, 2% fewer requests.  Tolerance:
// p99 at most 0.85 times fast-only's (seed 7: 0.79 with one nginx, 0.82
// with three, as before; nginx 1.31 0.78 and 0.64), at least as many
// requests.
TEST(QueueingServers, PerWorkerQueuesLeastTimeUsesTheIdleSlowServer)
{
    for (int instances : {1, 3}) {
        Scenario s = issue_scenario(instances, 0.02);
        s.per_worker_queues = true;
        Result fast = run(s, fast_only(), kSeed);
        Result r = run(s, module_least_time(), kSeed);
        EXPECT_LE(r.p99_ms, 0.85 * fast.p99_ms) << instances << " nginx";
        EXPECT_GE(r.requests, fast.requests) << instances << " nginx";
    }
}

// 20 nginx in front of 60 heterogeneous servers at 70% load, each nginx
// with its own table: no herding.  Tolerance: the load's coefficient of
// variation no more than random two least_conn's (seed 7: 1.53; least_time
// 0.88, weighted_random two 0.94), p99 below least_conn's with zone.  The
// issue asks for the best p99 of the simulated balancers: with 200 servers
// least_time is first (bench/sim/FINDINGS.md); with these 60 it is second,
// behind nginx 1.31's least_time (27.6 against 26.4 ms; 30.1 when the
// estimates decayed from the sample on); this guards that gap at 8%.
TEST(ManyBalancers, NoHerding)
{
    Scenario s = fleet(20, 0.7, 60);
    Result random_two = run(s, {"random two", Method::random_two}, kSeed);
    Result least_conn = run(s, {"least_conn", Method::least_conn, true},
                            kSeed);
    for (const Policy& p : {module_least_time(), module_two()}) {
        Result r = run(s, p, kSeed);
        EXPECT_LE(r.load_cv, random_two.load_cv) << p.name;
        EXPECT_LT(r.p99_ms, least_conn.p99_ms) << p.name;
        EXPECT_EQ(r.errors, 0u) << p.name;
    }
    Result nginx_least_time = run(
        s, {"nginx 1.31", Method::nginx_least_time, true}, kSeed);
    EXPECT_LE(run(s, module_least_time(), kSeed).p99_ms,
              1.08 * nginx_least_time.p99_ms);
}

// Two servers join 20 servers at 85% load behind 20 nginx instances
// (join_pool).  Without slow start, least_time's new servers queue 4
// requests per worker and more within a second, every instance sending
// its requests to them at once; with the default ramp of 1 s, neither
// module balancer loads a new server more than the busiest of the others.
// Tolerance: the new servers' peak at most the others'; the guard that
// the scenario shows the surge, at least twice the others' without the
// ramp; the tail of the requests of the 2 s after the join at most 10%
// above that without the ramp (the ramp holds capacity back).
TEST(Joining, NoSurgeWithSlowStart)
{
    Result surge = run(join_pool(0), module_least_time(), kSeed);
    EXPECT_GE(surge.joined_peak_load, 2 * surge.pool_peak_load);

    for (const Policy& p : {module_least_time(), module_two()}) {
        Result off = run(join_pool(0), p, kSeed);
        Result ramped = run(join_pool(1000), p, kSeed);
        EXPECT_LE(ramped.joined_peak_load, ramped.pool_peak_load) << p.name;
        EXPECT_LE(ramped.step_p99_ms[1], 1.1 * off.step_p99_ms[1]) << p.name;
    }
}

}  // namespace
}  // namespace sim
