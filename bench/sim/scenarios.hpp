// The simulated scenarios and balancers of issue 10, shared by the
// simulator's report (main.cpp) and its test (sim_test.cpp).
#pragma once

#include <string>
#include <vector>

#include "sim.hpp"

namespace sim {

// The servers of the issue: two workers each, blocking 4, 4, 4 and 12 ms.
std::vector<Server> issue_servers();

// nginx's balancers, the module's two, and the oracle.
std::vector<Policy> standard_policies();

// Round robin (least_conn, per worker as without zone) over the three fast
// servers of issue_servers(): the "fast only" reference of the issue.
Policy fast_only();

// The candidate rules studied for the module (bench/sim/FINDINGS.md).
std::vector<Policy> candidate_policies();

// `servers` of heterogeneous capacity (2, 4 or 8 workers, 5 to 20 ms)
// behind `instances` nginx instances of 4 workers, offered `load` of the
// capacity in open loop; at 6 s every tenth server slows down threefold,
// at 9 s one in 36 dies, at 12 s the last tenth joins.  With
// weight_by_workers, each server's weight is its number of workers.
Scenario fleet(int instances, double load, int servers = 200,
               bool weight_by_workers = false);

// Servers joining a loaded pool: 20 nginx instances of 4 workers, each its
// own table, in front of 20 servers of 4 workers at 10 ms (log-normal
// jitter, sigma 0.3), offered 85% of their capacity in open loop; at
// kJoinS two more servers of the same kind join (a reload of every
// instance).  Rate steps at the join and 2 s later, so that step_p99_ms
// gives the tail before, during and after; slices of 100 ms.
inline constexpr double kJoinS = 4;
Scenario join_pool(uint32_t slow_start_ms);

// The requests sent to the joining servers in the first slice after the
// join, over their fair share of it (their share of the capacity).
double join_surge(const Scenario& scenario, const Result& result);

}  // namespace sim
