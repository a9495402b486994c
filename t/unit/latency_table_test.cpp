#include "core/latency_table.hpp"
#include "table_memory.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

namespace upstream_latency {
namespace {

constexpr Decay kSecond{1000};
constexpr uint64_t kNow = 9'000'000'000;

double header_ms(const LatencyTable& table, uint32_t slot)
{
    return PeakEwma::read(table.slot(slot).header_time.load(), kNow, kSecond)
           / 1000;
}

TEST(PeerKey, DependsOnUpstreamAndPeer)
{
    EXPECT_EQ(PeerKey::of("app", "10.0.0.1:80"),
              PeerKey::of("app", "10.0.0.1:80"));
    EXPECT_FALSE(PeerKey::of("app", "10.0.0.1:80")
                 == PeerKey::of("app", "10.0.0.2:80"));
    EXPECT_FALSE(PeerKey::of("app", "10.0.0.1:80")
                 == PeerKey::of("api", "10.0.0.1:80"));
    EXPECT_FALSE(PeerKey::of("ab", "c") == PeerKey::of("a", "bc"));
}

TEST(LatencyTable, SelectionReadsOneCacheLinePerPeer)
{
    EXPECT_EQ(sizeof(PeerSlot), 256u);
    EXPECT_LT(offsetof(PeerSlot, selected_ms), 64u);
    EXPECT_LT(offsetof(PeerSlot, connect_time), 64u);
    EXPECT_EQ(offsetof(PeerSlot, counters), 64u);
    // header, slots, then 16 bytes of in-flight cells a slot per worker,
    // and the process of each worker's row (and no upstream entry)
    EXPECT_EQ(LatencyTable::bytes_for(10, 4),
              64u + 10 * (256u + 4 * 16u) + 4 * 4u);
    for (std::size_t n : {1, 2, 10, 100, 1000}) {
        for (std::size_t w : {1, 2, 64, 300}) {
            std::size_t bytes = LatencyTable::bytes_for(n, w);
            EXPECT_EQ(LatencyTable::capacity_of(bytes, w), n);
            EXPECT_EQ(LatencyTable::capacity_of(bytes - 1, w), n - 1);
        }
    }
    EXPECT_EQ(LatencyTable::capacity_of(10, 1), 0u);
}

TEST(LatencyTable, FreshTableHasOneEmptySlotPerKey)
{
    Memory m(LatencyTable::bytes_for(4, 2));
    auto keys = keys_of("app", {"a:1", "b:1", "c:1"});
    LatencyTable* table = create(m, keys);

    ASSERT_NE(table, nullptr);
    EXPECT_EQ(table->capacity(), 4u);
    EXPECT_EQ(table->used(), 3u);
    EXPECT_EQ(table->kept(), 0u);
    for (uint32_t i = 0; i < 3; i++) {
        EXPECT_EQ(table->slot(i).key.load(), keys[i]);
        EXPECT_FALSE(PeakEwma::measured(table->slot(i).header_time.load()));
        EXPECT_EQ(table->inflight(i, kNow).active, 0u);
    }
}

TEST(LatencyTable, RefusesKeysThatDoNotFit)
{
    Memory m(LatencyTable::bytes_for(2, 2));
    EXPECT_EQ(create(m, keys_of("app", {"a:1", "b:1", "c:1"})), nullptr);
}

TEST(LatencyTable, AttachChecksTheHeader)
{
    Memory m(LatencyTable::bytes_for(2, 2));
    ASSERT_NE(create(m, keys_of("app", {"a:1"})), nullptr);
    EXPECT_NE(LatencyTable::attach(m.data.get(), m.bytes), nullptr);
    EXPECT_EQ(LatencyTable::attach(m.data.get(), 32), nullptr);
    EXPECT_EQ(LatencyTable::attach(nullptr, m.bytes), nullptr);

    m.data.get()[0] ^= 1;  // magic
    EXPECT_EQ(LatencyTable::attach(m.data.get(), m.bytes), nullptr);
}

TEST(LatencyTable, ReloadKeepsRemainingPeersAndDropsRemovedOnes)
{
    Memory before(LatencyTable::bytes_for(3, 2));
    LatencyTable* old = create(before, keys_of("app", {"a:1", "b:1", "c:1"}));
    ASSERT_NE(old, nullptr);
    for (uint32_t i = 0; i < 3; i++) {
        PeakEwma::record(old->slot(i).header_time, (i + 1) * 1000,
                         SampleKind::exact, kNow, kSecond);
        InflightCells::enter(old->cells(i)[1], kNow);
        old->slot(i).counters.requests += 10 * (i + 1);
        old->slot(i).counters.histogram[2] += i + 1;
    }

    // b:1 removed, d:1 added, order changed
    Memory after(LatencyTable::bytes_for(8, 2));
    LatencyTable* table = create(after, keys_of("app", {"d:1", "c:1", "a:1"}),
                                 2, &before);
    ASSERT_NE(table, nullptr);
    EXPECT_EQ(table->kept(), 2u);
    EXPECT_FALSE(PeakEwma::measured(table->slot(0).header_time.load()));
    EXPECT_DOUBLE_EQ(header_ms(*table, 1), 3);
    EXPECT_DOUBLE_EQ(header_ms(*table, 2), 1);
    EXPECT_EQ(table->slot(1).counters.requests.load(), 30u);
    EXPECT_EQ(table->slot(2).counters.histogram[2].load(), 1u);
    EXPECT_EQ(table->slot(0).counters.requests.load(), 0u);
    // in-flight requests belong to the old workers
    EXPECT_EQ(table->inflight(1, kNow).active, 0u);
}

TEST(Histogram, BucketsAreThoseOfNginxPlus)
{
    EXPECT_EQ(kHistogramBuckets, 15u);
    EXPECT_EQ(histogram_bucket(0), 0u);
    EXPECT_EQ(histogram_bucket(5000), 0u);     // 5 ms is "le 5"
    EXPECT_EQ(histogram_bucket(5001), 1u);
    EXPECT_EQ(histogram_bucket(99'999), 5u);   // le 100
    EXPECT_EQ(histogram_bucket(10'000'000), 13u);
    EXPECT_EQ(histogram_bucket(10'000'001), 14u);  // +Inf
}

TEST(LatencyTable, SameAddressInAnotherUpstreamIsAnotherPeer)
{
    Memory before(LatencyTable::bytes_for(1, 2));
    LatencyTable* old = create(before, keys_of("app", {"a:1"}));
    PeakEwma::record(old->slot(0).header_time, 1000, SampleKind::exact, kNow,
                     kSecond);

    Memory after(LatencyTable::bytes_for(1, 2));
    LatencyTable* table = create(after, keys_of("api", {"a:1"}), 2, &before);
    EXPECT_EQ(table->kept(), 0u);
}

TEST(LatencyTable, ReloadKeepsEachOfTwoPeersAtOneAddress)
{
    // upstream app { server a:1; server b:1; server a:1 backup; }: two
    // slots of one key, each keeping its own statistics
    auto keys = keys_of("app", {"a:1", "b:1", "a:1"});

    Memory before(LatencyTable::bytes_for(3, 2));
    LatencyTable* old = create(before, keys);
    ASSERT_NE(old, nullptr);
    old->slot(0).counters.requests += 1000;
    PeakEwma::record(old->slot(0).header_time, 2000, SampleKind::exact, kNow,
                     kSecond);
    old->slot(2).counters.requests += 3;

    Memory after(LatencyTable::bytes_for(3, 2));
    LatencyTable* table = create(after, keys, 2, &before);
    ASSERT_NE(table, nullptr);

    EXPECT_EQ(table->slot(0).counters.requests.load(), 1000u);
    EXPECT_TRUE(PeakEwma::measured(table->slot(0).header_time.load()));
    EXPECT_EQ(table->slot(2).counters.requests.load(), 3u);
    EXPECT_FALSE(PeakEwma::measured(table->slot(2).header_time.load()));
    EXPECT_EQ(table->kept(), 3u);
}

TEST(LatencyTable, UnknownPredecessorLayoutStartsFresh)
{
    Memory before(LatencyTable::bytes_for(1, 2));
    LatencyTable* old = create(before, keys_of("app", {"a:1"}));
    PeakEwma::record(old->slot(0).header_time, 1000, SampleKind::exact, kNow,
                     kSecond);
    before.data.get()[8] ^= 1;  // version

    Memory after(LatencyTable::bytes_for(1, 2));
    LatencyTable* table = create(after, keys_of("app", {"a:1"}), 2, &before);
    ASSERT_NE(table, nullptr);
    EXPECT_EQ(table->kept(), 0u);
    EXPECT_FALSE(PeakEwma::measured(table->slot(0).header_time.load()));
}

TEST(LatencyTable, ReleasingADeadWorkersCellsEmptiesOnlyItsShare)
{
    Memory m(LatencyTable::bytes_for(2, 6));
    LatencyTable* table = create(m, keys_of("app", {"a:1", "b:1"}), 6);
    ASSERT_NE(table, nullptr);
    auto dead = [](int32_t) { return false; };
    EXPECT_EQ(table->start_worker(3, 103, dead), 0u);
    EXPECT_EQ(table->start_worker(5, 105, dead), 0u);

    // worker 3 has two requests in flight to a:1 and one to b:1, worker 5
    // one to a:1
    InflightCells::enter(table->cells(0)[3], kNow);
    InflightCells::enter(table->cells(0)[3], kNow);
    InflightCells::enter(table->cells(1)[3], kNow);
    InflightCells::enter(table->cells(0)[5], kNow);
    ASSERT_EQ(table->inflight(0, kNow).active, 3u);

    // worker 3 was killed; its successor clears exactly what it left
    EXPECT_EQ(table->start_worker(3, 203, dead), 3u);
    Inflight left = table->inflight(0, kNow + 1000);
    EXPECT_EQ(left.active, 1u);
    EXPECT_EQ(left.waiting, 1u);
    EXPECT_DOUBLE_EQ(left.mean_wait_us, 1000);
    EXPECT_EQ(table->inflight(1, kNow).active, 0u);
    EXPECT_EQ(table->start_worker(3, 303, dead), 0u);
    EXPECT_EQ(table->start_worker(6, 106, dead), 0u);  // no such worker

    // worker 5's request ends normally
    InflightCells::answered(table->cells(0)[5], kNow);
    InflightCells::leave(table->cells(0)[5]);
    EXPECT_EQ(table->inflight(0, kNow).active, 0u);
}

// A binary upgrade rolled back: the old master starts a worker with the
// number of an old one that still finishes its requests.  The row is
// shared, not cleared: the old one's requests end there as they would
// (cleared, each end took the count below zero, and the server looked
// busy with 4294967295 requests).  Once the old one is gone, a
// successor of the new one clears what the new one left.
TEST(LatencyTable, AWorkerThatStillRunsKeepsItsRow)
{
    Memory m(LatencyTable::bytes_for(1, 2));
    LatencyTable* table = create(m, keys_of("app", {"a:1"}), 2);
    ASSERT_NE(table, nullptr);
    int32_t running = 101;
    auto alive = [&running](int32_t pid) { return pid == running; };
    table->start_worker(0, 101, alive);
    InflightCells::enter(table->cells(0)[0], kNow);

    EXPECT_EQ(table->start_worker(0, 201, alive), 0u);
    InflightCells::enter(table->cells(0)[0], kNow);
    InflightCells::leave(table->cells(0)[0]);  // the old one's request
    EXPECT_EQ(table->inflight(0, kNow).active, 1u);

    running = 0;  // both are gone; the new one left its request
    EXPECT_EQ(table->start_worker(0, 301, alive), 1u);
    EXPECT_EQ(table->inflight(0, kNow).active, 0u);
}

TEST(LatencyTable, CellRowsDoNotOverlapSlotsOrEachOther)
{
    Memory m(LatencyTable::bytes_for(3, 4));
    LatencyTable* table = create(m, keys_of("app", {"a:1", "b:1", "c:1"}), 4);
    ASSERT_NE(table, nullptr);
    auto end = reinterpret_cast<char*>(&table->slot(2) + 1);
    EXPECT_GE(reinterpret_cast<char*>(table->cells(0)), end);
    EXPECT_EQ(table->cells(1), table->cells(0) + 4);
    EXPECT_LE(reinterpret_cast<char*>(table->cells(2) + 4),
              m.data.get() + m.bytes);
}

TEST(LatencyTable, UpstreamEntriesComeBeforeTheSlots)
{
    // header, 64 bytes an upstream, then the slots, cells and rows
    EXPECT_EQ(LatencyTable::bytes_for(10, 4, 3),
              64u + 3 * 64u + 10 * (256u + 4 * 16u) + 4 * 4u);
    for (std::size_t u : {1, 2, 50}) {
        std::size_t bytes = LatencyTable::bytes_for(7, 2, u);
        EXPECT_EQ(LatencyTable::capacity_of(bytes, 2, u), 7u);
        EXPECT_EQ(LatencyTable::capacity_of(bytes - 1, 2, u), 6u);
    }

    std::vector<PeerKey> upstreams = {PeerKey::of("app", {}),
                                      PeerKey::of("api", {})};
    Memory m(LatencyTable::bytes_for(3, 2, 2));
    auto keys = keys_of("app", {"a:1", "b:1", "c:1"});
    LatencyTable* table = LatencyTable::create(
        m.data.get(), m.bytes, keys.data(), keys.size(), 2, nullptr, 0, {},
        upstreams.data(), upstreams.size());
    ASSERT_NE(table, nullptr);
    EXPECT_EQ(table->capacity(), 3u);
    EXPECT_EQ(table->upstreams(), 2u);
    EXPECT_EQ(table->upstream(1).key.load(), upstreams[1]);
    EXPECT_EQ(table->upstream(0).clock.paused_ms(kNow / 1000, 1000), 0u);
    auto end = reinterpret_cast<char*>(&table->upstream(1) + 1);
    EXPECT_EQ(reinterpret_cast<char*>(&table->slot(0)), end);
    EXPECT_EQ(table->slot(2).key.load(), keys[2]);
    EXPECT_LE(reinterpret_cast<char*>(table->cells(2) + 2),
              m.data.get() + m.bytes);
    EXPECT_NE(LatencyTable::attach(m.data.get(), m.bytes), nullptr);
}

// An upstream's pauses go on with its name: its estimates, carried, are
// stamped on its clock.
TEST(LatencyTable, ReloadKeepsEachUpstreamsClock)
{
    std::vector<PeerKey> before_upstreams = {PeerKey::of("app", {}),
                                             PeerKey::of("old", {})};
    Memory before(LatencyTable::bytes_for(1, 2, 2));
    auto keys = keys_of("app", {"a:1"});
    LatencyTable* old = LatencyTable::create(
        before.data.get(), before.bytes, keys.data(), keys.size(), 2, nullptr,
        0, {}, before_upstreams.data(), before_upstreams.size());
    ASSERT_NE(old, nullptr);
    uint64_t now_ms = kNow / 1000;
    old->upstream(0).clock.serve(now_ms, 1000);
    old->upstream(0).clock.serve(now_ms + 5000, 1000);

    std::vector<PeerKey> after_upstreams = {PeerKey::of("new", {}),
                                            PeerKey::of("app", {})};
    Memory after(LatencyTable::bytes_for(1, 2, 2));
    LatencyTable* table = LatencyTable::create(
        after.data.get(), after.bytes, keys.data(), keys.size(), 2,
        before.data.get(), before.bytes, {}, after_upstreams.data(),
        after_upstreams.size());
    ASSERT_NE(table, nullptr);
    EXPECT_EQ(table->upstream(1).clock.paused_ms(now_ms + 5000, 1000), 4000u);
    EXPECT_EQ(table->upstream(0).clock.paused_ms(now_ms + 5000, 1000), 0u);
}

TEST(LatencyTable, ConcurrentWritersLoseNoUpdate)
{
    Memory m(LatencyTable::bytes_for(1, 2));
    LatencyTable* table = create(m, keys_of("app", {"a:1"}), 2);
    std::atomic<uint64_t>& estimate = table->slot(0).response_time;

    // Two workers record 2 ms and 3 ms at the same moment, many times over,
    // each time from 1 ms: 3 ms must win every time.  A plain load and
    // store instead of compare-and-swap lets the 2 ms sample, read before
    // and stored after, overwrite it.
    constexpr int kTrials = 20'000;
    std::atomic<int> started{0};
    std::atomic<int> recorded{0};
    int lost = 0;

    // spins, so that both record at once, yielding now and then: the
    // machine may have fewer free cores than threads
    auto wait_for = [](const std::atomic<int>& count, int value) {
        for (unsigned spins = 1; count.load() < value; spins++) {
            if (spins % 65536 == 0) {
                std::this_thread::yield();
            }
        }
    };
    auto reset = [&estimate] {
        estimate.store(0);
        PeakEwma::record(estimate, 1000, SampleKind::exact, kNow, kSecond);
    };
    auto worker = [&](uint64_t sample, bool checks) {
        for (int trial = 1; trial <= kTrials; trial++) {
            started.fetch_add(1);
            wait_for(started, 2 * trial);
            PeakEwma::record(estimate, sample, SampleKind::lower_bound, kNow,
                             kSecond);
            recorded.fetch_add(1);
            wait_for(recorded, 2 * trial);
            if (checks) {
                lost += PeakEwma::read(estimate.load(), kNow, kSecond) != 3000;
                reset();
            }
        }
    };

    reset();
    std::thread slow(worker, 3000, true);
    std::thread fast(worker, 2000, false);
    slow.join();
    fast.join();

    EXPECT_EQ(lost, 0);
}

TEST(LatencyTable, ReloadKeepsTheStreamConnectTime)
{
    Memory before(LatencyTable::bytes_for(1, 1));
    LatencyTable* old = create(before, keys_of("tcp", {"a:1"}), 1);
    ASSERT_NE(old, nullptr);
    PeakEwma::record(old->slot(0).estimate(Metric::connect), 700,
                     SampleKind::exact, kNow, kSecond);

    Memory after(LatencyTable::bytes_for(1, 1));
    LatencyTable* table = create(after, keys_of("tcp", {"a:1"}), 1, &before);
    ASSERT_NE(table, nullptr);
    EXPECT_DOUBLE_EQ(PeakEwma::read(table->slot(0).connect_time.load(), kNow,
                                    kSecond),
                     700);
    EXPECT_FALSE(PeakEwma::measured(table->slot(0).header_time.load()));
    EXPECT_EQ(&table->slot(0).estimate(Metric::first_byte),
              &table->slot(0).header_time);
}

}  // namespace
}  // namespace upstream_latency
