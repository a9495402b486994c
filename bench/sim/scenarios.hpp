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

// 200 servers of heterogeneous capacity behind `instances` nginx instances,
// offered `load` of the total capacity in open loop; along the way 10% of
// the servers slow down threefold, five die, and 20 join.
Scenario fleet(int instances, double load);

}  // namespace sim
