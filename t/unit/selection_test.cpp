#include "core/eligibility.hpp"
#include "core/selection.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace upstream_latency {
namespace {

constexpr Decay kSecond{1000};
constexpr uint64_t kNow = 9'000'000'000;

void measure(PeerSlot& slot, uint64_t header_us, uint64_t at = kNow)
{
    PeakEwma::record(slot.header_time, header_us, SampleKind::exact, at,
                     kSecond);
}

TEST(Score, IsLatencyTimesOnePlusActivePerWeight)
{
    EXPECT_DOUBLE_EQ(score({5000, 0}, 1), 5000);
    EXPECT_DOUBLE_EQ(score({5000, 3}, 1), 20000);
    EXPECT_DOUBLE_EQ(score({5000, 2}, 2), 10000);
    EXPECT_DOUBLE_EQ(score({0, 7}, 1), 0);
}

TEST(PerRequestSample, DividesByTheLoadFoundAtDispatch)
{
    EXPECT_EQ(per_request_sample(12000, 0, 1), 12000u);
    EXPECT_EQ(per_request_sample(12000, 2, 1), 4000u);
    EXPECT_EQ(per_request_sample(12000, 2, 2), 6000u);
    EXPECT_EQ(per_request_sample(12000, 3, 0), 3000u);
}

// A peer that queues: its requests found 2 others in flight and took 3
// times as long; normalized, its score with 2 in flight is what it took.
TEST(PerRequestSample, QueueingCountsOnce)
{
    PeerSlot slot{};
    measure(slot, per_request_sample(12000, 2, 1));
    PeerLoad load = observe(slot, {Metric::header, false, kSecond}, kNow);
    load.active = 2;
    EXPECT_NEAR(score(load, 1), 12000, 1);
}

TEST(Observe, UsesTheChosenMetricDecayed)
{
    PeerSlot slot{};
    measure(slot, 8000, kNow - 1'000'000);
    PeakEwma::record(slot.response_time, 30000, SampleKind::exact, kNow,
                     kSecond);

    PeerLoad header = observe(slot, {Metric::header, false, kSecond}, kNow);
    PeerLoad last_byte = observe(slot, {Metric::last_byte, false, kSecond},
                                 kNow);
    EXPECT_NEAR(header.latency_us, 4000, 1);
    EXPECT_DOUBLE_EQ(last_byte.latency_us, 30000);
}

TEST(Observe, InflightCountsTheWaitOfRequestsStillRunning)
{
    PeerSlot slot{};
    measure(slot, 2000);
    InflightGauge::enter(slot.inflight, kNow - 900'000);

    PeerLoad plain = observe(slot, {Metric::header, false, kSecond}, kNow);
    PeerLoad inflight = observe(slot, {Metric::header, true, kSecond}, kNow);
    EXPECT_DOUBLE_EQ(plain.latency_us, 2000);
    EXPECT_EQ(plain.active, 1u);
    EXPECT_DOUBLE_EQ(inflight.latency_us, 900'000);
}

TEST(Observe, UnmeasuredPeerIsFreeUntilItsFirstRequestWaits)
{
    PeerSlot slot{};
    EXPECT_DOUBLE_EQ(
        observe(slot, {Metric::header, false, kSecond}, kNow).latency_us, 0);

    InflightGauge::enter(slot.inflight, kNow - 3000);
    EXPECT_DOUBLE_EQ(
        observe(slot, {Metric::header, false, kSecond}, kNow).latency_us, 3000);
}

// Picks n times from fixed scores; returns how often each peer was chosen.
std::vector<int> picks(const std::vector<Candidate>& candidates, int n)
{
    std::vector<int64_t> weights(candidates.size(), 0);
    std::vector<int> chosen(candidates.size(), 0);
    for (int i = 0; i < n; i++) {
        chosen[pick_least_score(candidates.data(), candidates.size(),
                                weights.data())]++;
    }
    return chosen;
}

TEST(PickLeastScore, TakesTheLowestScore)
{
    EXPECT_EQ(picks({{0, 1, 8000}, {1, 1, 2000}, {2, 1, 5000}}, 10),
              (std::vector<int>{0, 10, 0}));
}

TEST(PickLeastScore, EqualPeersTakeTurns)
{
    std::vector<int64_t> weights(3, 0);
    std::vector<Candidate> c{{0, 1, 5000}, {1, 1, 5000}, {2, 1, 5000}};
    std::string order;
    for (int i = 0; i < 6; i++) {
        order += char('a' + pick_least_score(c.data(), 3, weights.data()));
    }
    EXPECT_EQ(order, "abcabc");
}

TEST(PickLeastScore, NearTiesShareByWeightLikeNginxRoundRobin)
{
    // nginx's smooth weighted round robin for weights 5, 1, 1
    std::vector<int64_t> weights(3, 0);
    std::vector<Candidate> c{{0, 5, 5000}, {1, 1, 5500}, {2, 1, 5200}};
    std::string order;
    for (int i = 0; i < 7; i++) {
        order += char('a' + pick_least_score(c.data(), 3, weights.data()));
    }
    EXPECT_EQ(order, "aabacaa");
}

TEST(PickLeastScore, ScoresBeyondTheTieFactorAreNotTies)
{
    EXPECT_EQ(picks({{0, 1, 5000}, {1, 1, 5000 * kTieFactor * 1.01}}, 10),
              (std::vector<int>{10, 0}));
    EXPECT_EQ(picks({{0, 1, 5000}, {1, 1, 5000 * kTieFactor}}, 10),
              (std::vector<int>{5, 5}));
}

TEST(PickLeastScore, UnmeasuredIdlePeersComeFirst)
{
    EXPECT_EQ(picks({{0, 1, 2000}, {1, 1, 0}, {2, 1, 0}}, 4),
              (std::vector<int>{0, 2, 2}));
}

TEST(PickLeastScore, TieBreakStateIsPerPeerNotPerPosition)
{
    // peer 1 was tried and left out; peers 0 and 2 still alternate
    std::vector<int64_t> weights(3, 0);
    std::vector<Candidate> c{{0, 1, 5000}, {2, 1, 5000}};
    EXPECT_EQ(pick_least_score(c.data(), 2, weights.data()), 0u);
    EXPECT_EQ(pick_least_score(c.data(), 2, weights.data()), 1u);
    EXPECT_EQ(weights[1], 0);
}

TEST(Selection, WeightedPeersShareByWeightWhenIdleAndLoaded)
{
    // equal latency; weight 2 takes twice the active requests
    std::vector<int64_t> weights(2, 0);
    uint32_t active[2] = {0, 0};
    for (int i = 0; i < 30; i++) {
        std::vector<Candidate> c{{0, 2, score({5000, active[0]}, 2)},
                                 {1, 1, score({5000, active[1]}, 1)}};
        active[c[pick_least_score(c.data(), 2, weights.data())].peer]++;
    }
    EXPECT_EQ(active[0], 20u);
    EXPECT_EQ(active[1], 10u);
}

TEST(Eligibility, FollowsNginxRules)
{
    PeerHealth fine{false, 0, 1, 0, 10, 0, 0};
    EXPECT_TRUE(usable(fine, 100));

    PeerHealth down = fine;
    down.down = true;
    EXPECT_FALSE(usable(down, 100));

    PeerHealth failed = fine;
    failed.fails = 3;
    failed.max_fails = 3;
    failed.checked = 95;
    EXPECT_FALSE(usable(failed, 100));
    EXPECT_FALSE(usable(failed, 105));
    EXPECT_TRUE(usable(failed, 106));  // fail_timeout passed: probe again

    PeerHealth uncounted = failed;
    uncounted.max_fails = 0;
    EXPECT_TRUE(usable(uncounted, 100));

    PeerHealth full = fine;
    full.conns = 4;
    full.max_conns = 4;
    EXPECT_FALSE(usable(full, 100));
    full.max_conns = 5;
    EXPECT_TRUE(usable(full, 100));
}

}  // namespace
}  // namespace upstream_latency
