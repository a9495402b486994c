#include "core/slow_start.hpp"
#include "table_memory.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace upstream_latency {
namespace {

constexpr Decay kSecond{1000};
constexpr uint64_t kNowMs = 9'000'000;
constexpr uint64_t kNow = kNowMs * 1000;
constexpr SlowStart kTenSeconds{10'000};

TEST(SlowStart, RampsLinearlyFromTheFloorOverTheWindow)
{
    EXPECT_DOUBLE_EQ(kTenSeconds.ramp(kNowMs, kNowMs), kRampFloor);
    EXPECT_DOUBLE_EQ(kTenSeconds.ramp(kNowMs, kNowMs + 500), kRampFloor);
    EXPECT_DOUBLE_EQ(kTenSeconds.ramp(kNowMs, kNowMs + 2500), 0.25);
    EXPECT_DOUBLE_EQ(kTenSeconds.ramp(kNowMs, kNowMs + 7500), 0.75);
    EXPECT_DOUBLE_EQ(kTenSeconds.ramp(kNowMs, kNowMs + 10'000), 1);
    EXPECT_DOUBLE_EQ(kTenSeconds.ramp(kNowMs, kNowMs + 99'000), 1);
}

TEST(SlowStart, OffOrNeverJoinedIsFullWeight)
{
    EXPECT_DOUBLE_EQ(SlowStart{0}.ramp(kNowMs, kNowMs), 1);
    EXPECT_DOUBLE_EQ(kTenSeconds.ramp(0, kNowMs), 1);
}

// Back from failure: the join is set to the end of fail_timeout.
TEST(SlowStart, AJoinToComeIsAtTheFloor)
{
    PeerSlot slot{};
    rejoin(slot, kNowMs + 10'000);
    EXPECT_DOUBLE_EQ(kTenSeconds.ramp(slot, kNowMs), kRampFloor);
    EXPECT_DOUBLE_EQ(kTenSeconds.ramp(slot, kNowMs + 15'000), 0.5);
    EXPECT_DOUBLE_EQ(kTenSeconds.ramp(slot, kNowMs + 20'000), 1);
}

LatencyTable* create_at(Memory& m, const std::vector<PeerKey>& keys,
                        const Memory* previous, uint64_t now_ms,
                        const std::vector<uint8_t>& down = {})
{
    return LatencyTable::create(m.data.get(), m.bytes, keys.data(),
                                keys.size(), 2,
                                previous ? previous->data.get() : nullptr,
                                previous ? previous->bytes : 0,
                                {now_ms, down.empty() ? nullptr : down.data()});
}

uint64_t joined(const LatencyTable& table, uint32_t i)
{
    return joined_at(table.slot(i).joined_ms.load());
}

TEST(Joining, TheFirstConfigurationHasNoJoins)
{
    Memory m(LatencyTable::bytes_for(2, 2));
    LatencyTable* table = create_at(m, keys_of("app", {"a:1", "b:1"}),
                                    nullptr, kNowMs);
    ASSERT_NE(table, nullptr);
    EXPECT_EQ(joined(*table, 0), 0u);
    EXPECT_EQ(joined(*table, 1), 0u);
}

// A reload adds c:1 at kNowMs, keeps a:1 as it was, and a second reload
// keeps c:1's ramp where it was instead of restarting it.
TEST(Joining, APeerAddedOnReloadJoinsAndAKeptOneKeepsItsRamp)
{
    Memory first(LatencyTable::bytes_for(2, 2));
    ASSERT_NE(create_at(first, keys_of("app", {"a:1", "b:1"}), nullptr, 1),
              nullptr);

    Memory second(LatencyTable::bytes_for(2, 2));
    LatencyTable* table = create_at(second, keys_of("app", {"a:1", "c:1"}),
                                    &first, kNowMs);
    ASSERT_NE(table, nullptr);
    EXPECT_EQ(joined(*table, 0), 0u);
    EXPECT_EQ(joined(*table, 1), kNowMs);

    Memory third(LatencyTable::bytes_for(2, 2));
    table = create_at(third, keys_of("app", {"c:1", "a:1"}), &second,
                      kNowMs + 4000);
    ASSERT_NE(table, nullptr);
    EXPECT_EQ(joined(*table, 0), kNowMs);
    EXPECT_EQ(joined(*table, 1), 0u);
    EXPECT_DOUBLE_EQ(kTenSeconds.ramp(table->slot(0), kNowMs + 4000), 0.4);
}

TEST(Joining, APeerBackFromDownJoinsAndOneStillDownDoesNot)
{
    auto keys = keys_of("app", {"a:1", "b:1", "c:1"});
    Memory first(LatencyTable::bytes_for(3, 2));
    ASSERT_NE(create_at(first, keys, nullptr, 1, {1, 1, 0}), nullptr);

    Memory second(LatencyTable::bytes_for(3, 2));
    LatencyTable* table = create_at(second, keys, &first, kNowMs, {0, 1, 0});
    ASSERT_NE(table, nullptr);
    EXPECT_EQ(joined(*table, 0), kNowMs);  // down, then up
    EXPECT_EQ(joined(*table, 1), 0u);      // still down
    EXPECT_EQ(joined(*table, 2), 0u);      // up all along
    EXPECT_EQ(table->slot(1).down, 1u);
}

TEST(Joining, CountsItsRequestsAsIfItsCapacityWereRamped)
{
    PeerSlot slot{};
    PeakEwma::record(slot.header_time, 4000, SampleKind::exact, kNow,
                     kSecond);
    PeerLoad load = joining({4000, 3}, slot.joined_ms.load(), 0.25,
                            {3000, 3000});
    EXPECT_EQ(load.active, 12u);
    EXPECT_DOUBLE_EQ(load.latency_us, 4000);
    EXPECT_EQ(joining({4000, 1}, slot.joined_ms.load(), 0.3, {}).active, 4u);
}

// Back from failure, its failure penalty decayed to 1 ms while it was out:
// during the ramp it is no faster than the others' 50 ms; after the ramp,
// measured, it is what it measures.
TEST(Joining, DuringTheRampNoFasterThanThePrior)
{
    PeerSlot slot{};
    PeakEwma::record(slot.header_time, 1000, SampleKind::exact, kNow,
                     kSecond);
    EXPECT_DOUBLE_EQ(joining({1000, 0}, slot.joined_ms.load(), 0.5,
                             {50'000, 20'000})
                         .latency_us,
                     50'000);
    EXPECT_DOUBLE_EQ(joining({1000, 0}, slot.joined_ms.load(), 1,
                             {50'000, 20'000})
                         .latency_us,
                     1000);
}

// Unmeasured: during the ramp as slow as the others' mean, after it as
// fast as the fastest of them.
TEST(Joining, UnmeasuredCountsAsTheMeanThenTheLeast)
{
    PeerSlot slot{};
    rejoin(slot, kNowMs);
    EXPECT_DOUBLE_EQ(joining({0, 0}, slot.joined_ms.load(), 0.5, {9000, 5000})
                         .latency_us,
                     9000);
    EXPECT_DOUBLE_EQ(joining({0, 0}, slot.joined_ms.load(), 1, {9000, 5000})
                         .latency_us,
                     5000);
    // a longer wait of its own requests still counts
    EXPECT_DOUBLE_EQ(joining({8000, 1}, slot.joined_ms.load(), 1, {9000, 5000})
                         .latency_us,
                     8000);
}

// After its ramp, a peer that joined and was never chosen (no load came)
// still counts as fast as the fastest of the others, not as instant.
TEST(Joining, UnmeasuredAfterTheRampStillHasThePrior)
{
    PeerSlot slot{};
    rejoin(slot, kNowMs);
    PeerLoad load{0, 0};
    EXPECT_DOUBLE_EQ(kTenSeconds.apply(slot, kNowMs + 60'000,
                                       {8000, 5000}, load),
                     1);
    EXPECT_DOUBLE_EQ(load.latency_us, 5000);

    PeerSlot first{};  // of the first configuration: as it is
    load = {0, 0};
    kTenSeconds.apply(first, kNowMs, {8000, 5000}, load);
    EXPECT_DOUBLE_EQ(load.latency_us, 0);
}

TEST(Joining, ThePriorIsTheMeanAndTheLeastOfTheMeasured)
{
    JoinPrior prior{1, 1};
    JoinPriorSum none;
    none.add(0);
    none.update(prior);  // nothing measured: the prior of before
    EXPECT_DOUBLE_EQ(prior.mean_us, 1);

    JoinPriorSum sum;
    for (double latency : {20'000.0, 0.0, 5000.0, 20'000.0}) {
        sum.add(latency);
    }
    sum.update(prior);
    EXPECT_DOUBLE_EQ(prior.mean_us, 15'000);
    EXPECT_DOUBLE_EQ(prior.least_us, 5000);
}

// A pool that is itself joining: with no peer at full ramp measured, the
// prior comes from the measured ones that ramp; any at full ramp comes
// first.
TEST(Joining, WithoutAPeerAtFullRampThePriorIsOfThoseRamping)
{
    JoinPrior prior;
    JoinPriorSum young;
    young.add(50'000, false);
    young.add(40'000, false);
    young.add(0, true);  // at full ramp, unmeasured
    young.update(prior);
    EXPECT_DOUBLE_EQ(prior.mean_us, 45'000);
    EXPECT_DOUBLE_EQ(prior.least_us, 40'000);

    JoinPriorSum mixed;
    mixed.add(50'000, false);
    mixed.add(8'000, true);
    mixed.update(prior);
    EXPECT_DOUBLE_EQ(prior.mean_us, 8'000);
}

TEST(Joining, RampedWeightKeepsTheFractionInTies)
{
    EXPECT_EQ(ramped_weight(1, 1), kRampWeightScale);
    EXPECT_EQ(ramped_weight(3, 0.5), 3 * kRampWeightScale / 2);
    EXPECT_EQ(ramped_weight(1, 0), 1u);
    EXPECT_EQ(ramped_weight(UINT32_MAX, 1), UINT32_MAX);
}

TEST(Joining, DrawsAreKeptWithTheRampsProbability)
{
    Rng rng(42);
    int kept = 0;
    for (int i = 0; i < 100'000; i++) {
        kept += keep_drawn(0.3, rng);
    }
    EXPECT_NEAR(kept, 30'000, 600);
    EXPECT_TRUE(keep_drawn(1, rng));
}

// Draws follow the ramped weights: three peers of weight 1, one at 10% of
// its ramp, which is 0.1 / 2.1 = 4.76% of the ramped weight; binomial
// sigma over 100,000 draws 0.07%, tolerance 0.5% (7 sigma).  Drawn again
// only once, it took 13.3%.
TEST(Joining, RampedDrawsFollowTheRampedWeights)
{
    const uint32_t weights[] = {1, 1, 1};
    AliasEntry entries[3];
    WeightedSampler::build(weights, 3, entries);
    WeightedSampler sampler(entries, weights, 3);
    Rng rng(7);
    auto usable = [](std::size_t) { return true; };
    auto ramp_of = [](std::size_t i) { return i == 2 ? kRampFloor : 1.0; };
    int joining = 0;

    for (int i = 0; i < 100'000; i++) {
        joining += draw_ramped(sampler, rng, usable, ramp_of) == 2;
    }
    EXPECT_NEAR(joining / 100'000.0, 0.1 / 2.1, 0.005);
}

// A peer answers since joining with a request sent after it joined; one
// sent before (in flight as it failed) does not count.
TEST(Joining, AnAnswerCountsForARequestSentSinceTheJoin)
{
    PeerSlot slot{};
    EXPECT_TRUE(answered_since_joining(slot.joined_ms.load()));

    rejoin(slot, kNowMs + 10'000);  // back from failure, fail_timeout on
    EXPECT_FALSE(answered_since_joining(slot.joined_ms.load()));
    EXPECT_EQ(joined_at(slot.joined_ms.load()), kNowMs + 10'000);

    answered(slot, kNow);
    EXPECT_FALSE(answered_since_joining(slot.joined_ms.load()));

    answered(slot, kNow + 10'000'000);
    EXPECT_TRUE(answered_since_joining(slot.joined_ms.load()));
    EXPECT_EQ(slot.joined_ms.load(), kNowMs + 10'000);
}

// Back from failure and past its ramp, a peer whose only estimate is the
// failure's penalty, decayed to next to nothing, is not taken for that
// fast: until it answers, it counts as the fastest of the others.  Once
// it answers, its estimate counts.
TEST(Joining, ADecayedPenaltyIsNoMeasure)
{
    PeerSlot slot{};
    slot.header_time.store(
        PeakEwma::with_sample(0, 300, SampleKind::exact, kNow, kSecond));
    rejoin(slot, kNowMs);
    PeerLoad load{300, 0};

    kTenSeconds.apply(slot, kNowMs + 60'000, {8000, 5000}, load);
    EXPECT_DOUBLE_EQ(load.latency_us, 5000);

    answered(slot, kNow + 60'000'000);
    load = {300, 0};
    kTenSeconds.apply(slot, kNowMs + 60'000, {8000, 5000}, load);
    EXPECT_DOUBLE_EQ(load.latency_us, 300);
}

// least_time as the shim runs it, on a frozen clock: count requests
// chosen one after another among table's peers at now_ms, each staying in
// flight or not; returns how many went to the last peer.
int requests_to_the_last_peer(LatencyTable& table, SlowStart slow_start,
                              uint64_t now_ms, int count, bool stay)
{
    uint32_t peers = table.used();
    LoadOptions options{Metric::header, false, kSecond};
    std::vector<int64_t> current_weights(peers, 0);
    int to_last = 0;

    for (int request = 0; request < count; request++) {
        // the prior of the peers of this choice at full ramp
        JoinPrior prior;
        JoinPriorSum ramped;
        for (uint32_t i = 0; i < peers; i++) {
            PeerLoad load = observe(table, i, options, now_ms * 1000);
            ramped.add(table.slot(i), load.latency_us, slow_start, now_ms);
        }
        ramped.update(prior);

        std::vector<Candidate> candidates;
        for (uint32_t i = 0; i < peers; i++) {
            PeerLoad load = observe(table, i, options, now_ms * 1000);
            uint32_t weight = 1;
            if (slow_start.window_ms) {
                weight = ramped_weight(
                    1, slow_start.apply(table.slot(i), now_ms, prior, load));
            }
            candidates.push_back({i, weight, score(load, 1)});
        }
        uint32_t chosen = candidates[pick_least_score(
                                         candidates.data(), candidates.size(),
                                         current_weights.data())]
                              .peer;
        if (stay) {
            InflightCells::enter(table.cells(chosen)[0], now_ms * 1000);
        }
        to_last += chosen == peers - 1;
    }
    return to_last;
}

// Four measured peers of 5 ms with 4 requests in flight each (a loaded
// pool), and e, just added and not yet measured.  200 requests are chosen,
// each staying in flight.  Without the ramp e scores least and takes most
// of them, the surge of every worker at once; at the start of its ramp,
// it takes its share.
int requests_to_the_new_peer(SlowStart slow_start)
{
    constexpr uint32_t kPeers = 5;
    Memory m(LatencyTable::bytes_for(kPeers, 1));
    LatencyTable* table = create(m, keys_of("app", {"a", "b", "c", "d", "e"}),
                                 1);
    for (uint32_t i = 0; i < kPeers - 1; i++) {
        PeakEwma::record(table->slot(i).header_time, 5000, SampleKind::exact,
                         kNow, kSecond);
        for (int k = 0; k < 4; k++) {
            InflightCells::enter(table->cells(i)[0], kNow);
        }
    }
    rejoin(table->slot(kPeers - 1), kNowMs);

    return requests_to_the_last_peer(*table, slow_start, kNowMs, 200, true);
}

TEST(Joining, ANewPeerInALoadedPoolGetsNoSurge)
{
    // its fair share is a fifth, 40: without the ramp it takes over half
    // (its score, 1 ms at the noise floor, passes the others' 25 ms only
    // with 24 requests in flight); at the ramp's floor, a tenth of 40
    EXPECT_GT(requests_to_the_new_peer(SlowStart{0}), 100);
    int ramped = requests_to_the_new_peer(kTenSeconds);
    EXPECT_GE(ramped, 2);
    EXPECT_LE(ramped, 8);
}

// Requests one at a time to 5, 20 and 20 ms peers, and d, which joined a
// minute ago and was never chosen: d ties with the 5 ms peer, so it gets
// tried.  A prior of the others' mean (15 ms) would leave it out until the
// 5 ms peer is busy.
TEST(Joining, AnUnmeasuredPeerAfterItsRampIsTriedWithoutLoad)
{
    Memory m(LatencyTable::bytes_for(4, 1));
    LatencyTable* table = create(m, keys_of("app", {"a", "b", "c", "d"}), 1);
    uint64_t latencies[] = {5000, 20'000, 20'000};
    for (uint32_t i = 0; i < 3; i++) {
        PeakEwma::record(table->slot(i).header_time, latencies[i],
                         SampleKind::exact, kNow, kSecond);
    }
    rejoin(table->slot(3), kNowMs - 60'000);

    int to_new = requests_to_the_last_peer(*table, kTenSeconds, kNowMs, 20,
                                           false);
    EXPECT_GE(to_new, 8);  // half the ties with a, 10
}

}  // namespace
}  // namespace upstream_latency
