#include "core/eligibility.hpp"
#include "core/selection.hpp"
#include "table_memory.hpp"

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
}

TEST(Score, CountsALatencyBelowTheNoiseFloorAsTheFloor)
{
    EXPECT_DOUBLE_EQ(score({300, 0}, 1), kNoiseFloorUs);
    // an estimate decayed to next to nothing still counts its queue
    EXPECT_DOUBLE_EQ(score({0, 7}, 1), 8 * kNoiseFloorUs);
    EXPECT_DOUBLE_EQ(score({20, 3}, 3), 2 * kNoiseFloorUs);
}

TEST(Scored, IsTheScoreBusyAndFlooredLatencyOfTheLoad)
{
    for (PeerLoad load : {PeerLoad{5000, 0}, PeerLoad{5000, 3},
                          PeerLoad{300, 2}, PeerLoad{7777, 5}})
    {
        for (uint32_t weight : {0u, 1u, 3u}) {
            Candidate c = scored(7, 16, load, weight);
            EXPECT_EQ(c.peer, 7u);
            EXPECT_EQ(c.weight, 16u);
            // the same operations: equal, not only near
            EXPECT_EQ(c.score, score(load, weight));
            EXPECT_EQ(c.busy, busy(load, weight));
            EXPECT_EQ(c.latency, floored_latency(load));
        }
    }
}

// A table of one peer, seen by two worker processes.
struct OnePeer {
    Memory memory{LatencyTable::bytes_for(1, 2)};
    LatencyTable* table = create(memory, keys_of("app", {"a:1"}), 2);
    PeerSlot& slot = table->slot(0);

    PeerLoad observe(LoadOptions options) const
    {
        return upstream_latency::observe(*table, 0, options, kNow);
    }
};

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
    PeerLoad load = observe(slot, Inflight{}, {Metric::header, false, kSecond},
                            kNow);
    load.active = 2;
    EXPECT_NEAR(score(load, 1), 12000, 1);
}

// The servers of issue 10: a 4 ms server of two workers that queues, and
// an idle 12 ms one.  The fast one's last request found one other in
// flight and took 8 ms (4 of them in its queue); it has one in flight now.
// It is still the better choice (its next request waits about 4 ms more,
// under 12): counting its queue twice, in the time measured and again by
// the request in flight, sent the request to the slow server.
TEST(PerRequestSample, AQueueingFastPeerStaysAheadOfAnIdleSlowOne)
{
    PeerSlot fast{}, slow{};
    record_per_request(fast.header_time, 8000, 1, 1, SampleKind::exact, kNow,
                       kSecond);
    record_per_request(slow.header_time, 12000, 0, 1, SampleKind::exact,
                       kNow, kSecond);
    PeerLoad fast_load = observe(fast, Inflight{1, 0, 0.0},
                                 {Metric::header, false, kSecond}, kNow);
    PeerLoad slow_load = observe(slow, Inflight{},
                                 {Metric::header, false, kSecond}, kNow);

    Candidate candidates[] = {{0, 1, score(fast_load, 1)},
                              {1, 1, score(slow_load, 1)}};
    int64_t current_weights[2] = {};
    EXPECT_EQ(pick_least_score(candidates, 2, current_weights), 0u);
    EXPECT_NEAR(candidates[0].score, 8000, 1);
}

// A time measured alone says what the peer takes: a faster one moves the
// estimate by a quarter.  One that found others in flight, divided by
// them, is a guess (which worker's queue it waited in is unknown): it
// moves the estimate by 1/64.
TEST(PerRequestSample, AFasterTimeUnderLoadMovesTheEstimateLittle)
{
    PeerSlot alone{}, loaded{};
    measure(alone, 4000);
    measure(loaded, 4000);
    record_per_request(alone.header_time, 2000, 0, 1, SampleKind::exact,
                       kNow, kSecond);
    record_per_request(loaded.header_time, 2400, 2, 1, SampleKind::exact,
                       kNow, kSecond);
    EXPECT_DOUBLE_EQ(PeakEwma::read(alone.header_time.load(), kNow, kSecond),
                     3500);
    // 800 per request: 1/64 of the way from 4000
    EXPECT_DOUBLE_EQ(PeakEwma::read(loaded.header_time.load(), kNow,
                                    kSecond),
                     3950);
}

// A fast server of issue 10 (4 ms), of two workers each with its own
// queue: each request found 3 others in flight and took 4, 8, 12 or 16
// ms by the worker's queue it waited in (1 to 4 services), so its time
// per request scatters from 1 to 4 ms.  Moving by a quarter, the estimate
// follows the scatter; at 1/64 it stays near the top, the time of a
// request alone, and a fast server with 3 in flight loses to an idle
// 12 ms one, as half of its requests would take 12 ms or more.
TEST(PerRequestSample, ScatteredTimesUnderLoadKeepTheEstimateNearTheTop)
{
    PeerSlot fast{};
    measure(fast, 4000);
    for (int i = 0; i < 64; i++) {
        uint64_t elapsed = 4000 * (1 + (i * 7 % 4));
        record_per_request(fast.header_time, elapsed, 3, 1,
                           SampleKind::exact, kNow, kSecond);
    }
    PeerLoad load = observe(fast, Inflight{3, 0, 0.0},
                            {Metric::header, false, kSecond}, kNow);
    EXPECT_GT(load.latency_us, 3500);
    EXPECT_GT(score(load, 1), tie_limit(12000, kNoiseFloorUs));
}

// A request cut short after 30 ms that had found 2 others in flight shows
// at least 10 ms per request; failure penalties are not divided.
TEST(PerRequestSample, LowerBoundsAreDividedToo)
{
    PeerSlot slot{};
    measure(slot, 4000);
    record_per_request(slot.header_time, 30000, 2, 1, SampleKind::lower_bound,
                       kNow, kSecond);
    EXPECT_DOUBLE_EQ(PeakEwma::read(slot.header_time.load(), kNow, kSecond),
                     10000);
}

TEST(Observe, UsesTheChosenMetricDecayed)
{
    OnePeer p;
    measure(p.slot, 8000, kNow - 2'000'000);
    PeakEwma::record(p.slot.response_time, 30000, SampleKind::exact, kNow,
                     kSecond);

    EXPECT_NEAR(p.observe({Metric::header, false, kSecond}).latency_us, 4000,
                1);
    EXPECT_DOUBLE_EQ(p.observe({Metric::last_byte, false, kSecond}).latency_us,
                     30000);
}

TEST(Observe, InflightCountsTheWaitOfRequestsStillRunning)
{
    OnePeer p;
    measure(p.slot, 2000);
    InflightCells::enter(p.table->cells(0)[1], kNow - 900'000);

    PeerLoad plain = p.observe({Metric::header, false, kSecond});
    PeerLoad inflight = p.observe({Metric::header, true, kSecond});
    EXPECT_DOUBLE_EQ(plain.latency_us, 2000);
    EXPECT_EQ(plain.active, 1u);
    EXPECT_DOUBLE_EQ(inflight.latency_us, 900'000);
}

TEST(Observe, AnAnsweredRequestStillCountsAsActiveButNoLongerWaits)
{
    // a response streaming for an hour after its header: one request more
    // for the score, but its age does not make the peer look hung
    OnePeer p;
    measure(p.slot, 2000);
    uint64_t start = kNow - 3'600'000'000;
    InflightCells::enter(p.table->cells(0)[0], start);
    InflightCells::answered(p.table->cells(0)[0], start);

    PeerLoad load = p.observe({Metric::last_byte, true, kSecond});
    EXPECT_EQ(load.active, 1u);
    EXPECT_DOUBLE_EQ(p.observe({Metric::header, true, kSecond}).latency_us,
                     2000);
}

TEST(Observe, UnmeasuredPeerIsFreeUntilItsFirstRequestWaits)
{
    OnePeer p;
    EXPECT_DOUBLE_EQ(p.observe({Metric::header, false, kSecond}).latency_us,
                     0);

    InflightCells::enter(p.table->cells(0)[0], kNow - 3000);
    EXPECT_DOUBLE_EQ(p.observe({Metric::header, false, kSecond}).latency_us,
                     3000);
}

// The shim counts a request as waiting only where a selection reads it:
// a measured peer without inflight is scored by its active requests only,
// and a request entered as active alone changes nothing else.
TEST(Observe, WaitingIsReadOnlyWithInflightOrBeforeTheFirstSample)
{
    OnePeer p;
    LoadOptions plain{Metric::header, false, kSecond};
    LoadOptions inflight{Metric::header, true, kSecond};
    uint64_t none = p.slot.header_time.load();
    EXPECT_TRUE(reads_waiting(plain, none));
    EXPECT_TRUE(reads_waiting(inflight, none));

    measure(p.slot, 2000);
    uint64_t measured = p.slot.header_time.load();
    EXPECT_FALSE(reads_waiting(plain, measured));
    EXPECT_TRUE(reads_waiting(inflight, measured));

    InflightCells::enter(p.table->cells(0)[1]);
    PeerLoad load = p.observe(plain);
    EXPECT_EQ(load.active, 1u);
    EXPECT_DOUBLE_EQ(load.latency_us, 2000);
    EXPECT_EQ(p.table->inflight(0, kNow).waiting, 0u);
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
    EXPECT_EQ(picks({{0, 1, 10000}, {1, 1, 10000 * kTieFactor * 1.01}}, 10),
              (std::vector<int>{10, 0}));
    EXPECT_EQ(picks({{0, 1, 10000}, {1, 1, 10000 * kTieFactor}}, 10),
              (std::vector<int>{5, 5}));
}

TEST(PickLeastScore, DifferencesWithinMeasurementNoiseAreTies)
{
    // two identical servers at about 0.3 ms, apart by some noise
    EXPECT_EQ(picks({{0, 1, 300}, {1, 1, 800}}, 10),
              (std::vector<int>{5, 5}));
    EXPECT_EQ(picks({{0, 1, 300}, {1, 1, 300 + kNoiseFloorUs}}, 10),
              (std::vector<int>{5, 5}));
    EXPECT_EQ(picks({{0, 1, 300}, {1, 1, 301 + kNoiseFloorUs}}, 10),
              (std::vector<int>{10, 0}));
    // 2 ms against 12 ms stays a clear difference
    EXPECT_EQ(picks({{0, 1, 2000}, {1, 1, 12000}}, 10),
              (std::vector<int>{10, 0}));
}

// A scored peer for first_is_better.
Candidate scored(double score, double busy = 0)
{
    return {0, 1, score, busy};
}

TEST(FirstIsBetter, UsesTheSameTieRule)
{
    Rng rng(7);
    int first = 0;
    for (int i = 0; i < 1000; i++) {
        first += first_is_better(scored(300), scored(1200), kNoiseFloorUs, rng);
    }
    EXPECT_GT(first, 400);  // a coin: 500 +- 3.2 sigma
    EXPECT_LT(first, 600);
    EXPECT_TRUE(first_is_better(scored(2000), scored(12000), kNoiseFloorUs,
                                rng));
    EXPECT_FALSE(first_is_better(scored(12000), scored(2000), kNoiseFloorUs,
                                 rng));
    // least_conn: one active request against none is no tie
    EXPECT_TRUE(first_is_better(scored(1), scored(2), 0, rng));
}

TEST(FirstIsBetter, TiesGoToFewerRequestsInFlight)
{
    // an estimate decayed to next to nothing: 0.02 ms with 40 requests in
    // flight ties with 0.3 ms idle, and the idle peer wins every time
    Rng rng(7);
    for (int i = 0; i < 100; i++) {
        EXPECT_FALSE(first_is_better(scored(20 * 41, 40), scored(300),
                                     kNoiseFloorUs, rng));
        EXPECT_TRUE(first_is_better(scored(300), scored(20 * 41, 40),
                                    kNoiseFloorUs, rng));
    }
}

TEST(PickLeastScore, TiesGoToFewerRequestsInFlightPerWeight)
{
    // scores that tie: the fewest requests per weight, least_conn's rule,
    // then turns among those (peers 1 and 2: 2 per weight 2 = 1 per 1)
    EXPECT_EQ(picks({{0, 1, 400, 3}, {1, 2, 300, 1}, {2, 1, 350, 1},
                     {3, 1, 100, 2}}, 12),
              (std::vector<int>{0, 8, 4, 0}));
    // a clearly lower score still wins whatever its queue
    EXPECT_EQ(picks({{0, 1, 2000, 0}, {1, 1, 12000 * 3, 2}}, 4),
              (std::vector<int>{4, 0}));
}

TEST(PickLeastScore, WhenMostAreBusyTheFastServersComeFirstInTies)
{
    // three servers of 6 ms with a request in flight each tie a 12 ms
    // server that is idle: the fast ones, whose requests in flight may
    // well run beside the next, take the ties
    EXPECT_EQ(picks({{0, 1, 12000, 1}, {1, 1, 12000, 1}, {2, 1, 12000, 1},
                     {3, 1, 12000, 0}}, 6),
              (std::vector<int>{2, 2, 2, 0}));
}

TEST(PickLeastScore, WhenMostAreIdleFewerInFlightComeFirstInTies)
{
    // half the servers idle: a busy one is the exception, and the idle
    // 12 ms server takes the tie from the busy 6 ms one
    EXPECT_EQ(picks({{0, 1, 12000, 1}, {1, 1, 12000, 0}}, 4),
              (std::vector<int>{0, 4}));
    EXPECT_EQ(picks({{0, 1, 12000, 1}, {1, 1, 12000, 0}, {2, 1, 30000, 0},
                     {3, 1, 12000, 1}}, 4),
              (std::vector<int>{0, 4, 0, 0}));
}

TEST(FirstIsBetter, AmongTiesTheFastServerComesBeforeFewerInFlight)
{
    Rng rng(7);
    EXPECT_TRUE(first_is_better(scored(12000, 1), scored(12000, 0),
                                kNoiseFloorUs, rng));
    EXPECT_FALSE(first_is_better(scored(12000, 1), scored(6500, 0),
                                 kNoiseFloorUs, rng));
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
