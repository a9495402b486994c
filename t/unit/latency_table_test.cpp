#include "core/latency_table.hpp"

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

// Stand-in for a shared memory zone: 64-byte aligned, zeroed.
struct Memory {
    explicit Memory(std::size_t bytes)
        : bytes(bytes),
          data(static_cast<char*>(std::aligned_alloc(64, bytes)), std::free)
    {
        std::fill(data.get(), data.get() + bytes, 0);
    }
    std::size_t bytes;
    std::unique_ptr<char, decltype(&std::free)> data;
};

std::vector<PeerKey> keys_of(const char* upstream,
                             std::vector<const char*> peers)
{
    std::vector<PeerKey> keys;
    for (const char* peer : peers) {
        keys.push_back(PeerKey::of(upstream, peer));
    }
    return keys;
}

LatencyTable* create(Memory& m, const std::vector<PeerKey>& keys,
                     const Memory* previous = nullptr)
{
    return LatencyTable::create(m.data.get(), m.bytes, keys.data(),
                                keys.size(),
                                previous ? previous->data.get() : nullptr,
                                previous ? previous->bytes : 0);
}

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
    EXPECT_EQ(offsetof(PeerSlot, counters), 64u);
    // header, slots, then a ledger row of 8 bytes a slot per worker
    EXPECT_EQ(LatencyTable::bytes_for(10), 64u + 10 * 256u + 64 * 128u);
    for (std::size_t n : {1, 2, 10, 100, 1000}) {
        EXPECT_EQ(LatencyTable::capacity_of(LatencyTable::bytes_for(n)), n);
        EXPECT_EQ(LatencyTable::capacity_of(LatencyTable::bytes_for(n) - 1),
                  n - 1);
    }
    EXPECT_EQ(LatencyTable::capacity_of(10), 0u);
}

TEST(LatencyTable, FreshTableHasOneEmptySlotPerKey)
{
    Memory m(LatencyTable::bytes_for(4));
    auto keys = keys_of("app", {"a:1", "b:1", "c:1"});
    LatencyTable* table = create(m, keys);

    ASSERT_NE(table, nullptr);
    EXPECT_EQ(table->capacity(), 4u);
    EXPECT_EQ(table->used(), 3u);
    EXPECT_EQ(table->kept(), 0u);
    for (uint32_t i = 0; i < 3; i++) {
        EXPECT_EQ(table->slot(i).key, keys[i]);
        EXPECT_FALSE(PeakEwma::measured(table->slot(i).header_time.load()));
        EXPECT_EQ(table->slot(i).inflight.load(), 0u);
    }
}

TEST(LatencyTable, RefusesKeysThatDoNotFit)
{
    Memory m(LatencyTable::bytes_for(2));
    EXPECT_EQ(create(m, keys_of("app", {"a:1", "b:1", "c:1"})), nullptr);
}

TEST(LatencyTable, AttachChecksTheHeader)
{
    Memory m(LatencyTable::bytes_for(2));
    ASSERT_NE(create(m, keys_of("app", {"a:1"})), nullptr);
    EXPECT_NE(LatencyTable::attach(m.data.get(), m.bytes), nullptr);
    EXPECT_EQ(LatencyTable::attach(m.data.get(), 32), nullptr);
    EXPECT_EQ(LatencyTable::attach(nullptr, m.bytes), nullptr);

    m.data.get()[0] ^= 1;  // magic
    EXPECT_EQ(LatencyTable::attach(m.data.get(), m.bytes), nullptr);
}

TEST(LatencyTable, ReloadKeepsRemainingPeersAndDropsRemovedOnes)
{
    Memory before(LatencyTable::bytes_for(3));
    LatencyTable* old = create(before, keys_of("app", {"a:1", "b:1", "c:1"}));
    ASSERT_NE(old, nullptr);
    for (uint32_t i = 0; i < 3; i++) {
        PeakEwma::record(old->slot(i).header_time, (i + 1) * 1000,
                         SampleKind::exact, kNow, kSecond);
        InflightGauge::enter(old->slot(i).inflight, kNow);
        old->slot(i).counters.requests += 10 * (i + 1);
        old->slot(i).counters.histogram[2] += i + 1;
    }

    // b:1 removed, d:1 added, order changed
    Memory after(LatencyTable::bytes_for(8));
    LatencyTable* table = create(after, keys_of("app", {"d:1", "c:1", "a:1"}),
                                 &before);
    ASSERT_NE(table, nullptr);
    EXPECT_EQ(table->kept(), 2u);
    EXPECT_FALSE(PeakEwma::measured(table->slot(0).header_time.load()));
    EXPECT_DOUBLE_EQ(header_ms(*table, 1), 3);
    EXPECT_DOUBLE_EQ(header_ms(*table, 2), 1);
    EXPECT_EQ(table->slot(1).counters.requests.load(), 30u);
    EXPECT_EQ(table->slot(2).counters.histogram[2].load(), 1u);
    EXPECT_EQ(table->slot(0).counters.requests.load(), 0u);
    // in-flight requests belong to the old workers
    EXPECT_EQ(table->slot(1).inflight.load(), 0u);
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
    Memory before(LatencyTable::bytes_for(1));
    LatencyTable* old = create(before, keys_of("app", {"a:1"}));
    PeakEwma::record(old->slot(0).header_time, 1000, SampleKind::exact, kNow,
                     kSecond);

    Memory after(LatencyTable::bytes_for(1));
    LatencyTable* table = create(after, keys_of("api", {"a:1"}), &before);
    EXPECT_EQ(table->kept(), 0u);
}

TEST(LatencyTable, UnknownPredecessorLayoutStartsFresh)
{
    Memory before(LatencyTable::bytes_for(1));
    LatencyTable* old = create(before, keys_of("app", {"a:1"}));
    PeakEwma::record(old->slot(0).header_time, 1000, SampleKind::exact, kNow,
                     kSecond);
    before.data.get()[8] ^= 1;  // version

    Memory after(LatencyTable::bytes_for(1));
    LatencyTable* table = create(after, keys_of("app", {"a:1"}), &before);
    ASSERT_NE(table, nullptr);
    EXPECT_EQ(table->kept(), 0u);
    EXPECT_FALSE(PeakEwma::measured(table->slot(0).header_time.load()));
}

TEST(LatencyTable, ReleasingADeadWorkersLedgerEmptiesOnlyItsShare)
{
    Memory m(LatencyTable::bytes_for(2));
    LatencyTable* table = create(m, keys_of("app", {"a:1", "b:1"}));
    ASSERT_NE(table, nullptr);

    // worker 3 has two requests in flight to a:1, worker 5 one
    for (uint32_t worker : {3u, 3u, 5u}) {
        ASSERT_TRUE(InflightGauge::enter(table->slot(0).inflight, kNow));
        ASSERT_TRUE(InflightGauge::enter(table->ledger(worker)[0], kNow));
    }
    ASSERT_EQ(InflightGauge::read(table->slot(0).inflight.load(), kNow).count,
              3u);

    // worker 3 was killed; its successor in slot 3 releases what it left
    EXPECT_EQ(table->release(3), 2u);
    Inflight left = InflightGauge::read(table->slot(0).inflight.load(),
                                        kNow + 1000);
    EXPECT_EQ(left.count, 1u);
    EXPECT_DOUBLE_EQ(left.mean_elapsed_us, 1000);
    EXPECT_EQ(table->ledger(3)[0].load(), 0u);
    EXPECT_EQ(table->release(3), 0u);

    // worker 5 finishes normally
    InflightGauge::leave(table->slot(0).inflight, kNow);
    InflightGauge::leave(table->ledger(5)[0], kNow);
    EXPECT_EQ(table->slot(0).inflight.load(), 0u);
}

TEST(LatencyTable, LedgerRowsDoNotOverlapSlotsOrEachOther)
{
    Memory m(LatencyTable::bytes_for(3));
    LatencyTable* table = create(m, keys_of("app", {"a:1", "b:1", "c:1"}));
    auto end = reinterpret_cast<char*>(&table->slot(2) + 1);
    EXPECT_GE(reinterpret_cast<char*>(table->ledger(0)), end);
    EXPECT_GE(reinterpret_cast<char*>(table->ledger(1)),
              reinterpret_cast<char*>(table->ledger(0) + 3));
    EXPECT_LE(reinterpret_cast<char*>(
                  table->ledger(LatencyTable::kLedgerWorkers - 1) + 3),
              m.data.get() + m.bytes);
    EXPECT_EQ(table->ledger(LatencyTable::kLedgerWorkers), nullptr);
}

TEST(InflightGaugeRemove, NeverGoesBelowZero)
{
    std::atomic<uint64_t> cell{0};
    ASSERT_TRUE(InflightGauge::enter(cell, kNow));
    uint64_t two = (uint64_t{2} << 48) | (2 * kNow & InflightGauge::kSumMask);
    InflightGauge::remove(cell, two);
    EXPECT_EQ(cell.load(), 0u);
}

TEST(LatencyTable, ConcurrentWritersLoseNoUpdate)
{
    Memory m(LatencyTable::bytes_for(1));
    LatencyTable* table = create(m, keys_of("app", {"a:1"}));
    PeerSlot& slot = table->slot(0);

    constexpr int kThreads = 4;
    constexpr int kRounds = 100'000;
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; t++) {
        threads.emplace_back([&slot, t] {
            for (int i = 0; i < kRounds; i++) {
                uint64_t start = kNow + t * 1000 + i;
                ASSERT_TRUE(InflightGauge::enter(slot.inflight, start));
                PeakEwma::record(slot.header_time, 1000 + t, SampleKind::exact,
                                 kNow, kSecond);
                InflightGauge::leave(slot.inflight, start);
            }
        });
    }
    // while they run, a slow sample must not be lost either
    PeakEwma::record(slot.header_time, 50'000, SampleKind::lower_bound, kNow,
                     kSecond);
    for (auto& thread : threads) {
        thread.join();
    }

    EXPECT_EQ(slot.inflight.load(), 0u);
    double estimate = PeakEwma::read(slot.header_time.load(), kNow, kSecond);
    EXPECT_GE(estimate, 1000);
    EXPECT_LE(estimate, 50'000);
}

}  // namespace
}  // namespace upstream_latency
