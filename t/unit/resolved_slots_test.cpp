// Slots of resolved peers: acquired by key, released, found again.
#include "core/latency_table.hpp"
#include "table_memory.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace upstream_latency {
namespace {

constexpr uint32_t kGroup = 7;
constexpr uint64_t kNow = 1000;  // monotonic ms

PeerKey key(const std::string& peer)
{
    return PeerKey::of("app", peer);
}

// The bits of release_unmapped for these resolved slots of table.
std::vector<uint64_t> mapped(const LatencyTable& table,
                             std::vector<uint32_t> slots)
{
    std::vector<uint64_t> bits((table.resolved_slots() + 63) / 64);
    for (uint32_t slot : slots) {
        uint32_t i = slot - (table.capacity() - table.resolved_slots());
        bits[i / 64] |= uint64_t{1} << i % 64;
    }
    return bits;
}

TEST(ResolvedSlots, TakeTheSlotsAfterTheConfiguredOnes)
{
    Memory m(LatencyTable::bytes_for(6, 2));
    LatencyTable* table = create(m, keys_of("app", {"a:1", "b:1"}));

    std::set<uint32_t> taken;
    for (int i = 0; i < 4; i++) {
        uint32_t slot = table->acquire(key("10.0.0." + std::to_string(i)),
                                       kGroup, kNow);
        ASSERT_NE(slot, LatencyTable::npos);
        EXPECT_GE(slot, 2u);
        taken.insert(slot);
    }
    EXPECT_EQ(taken.size(), 4u);
    EXPECT_EQ(table->resolved(), 4u);
    EXPECT_EQ(table->acquire(key("10.0.0.9"), kGroup, kNow),
              LatencyTable::npos);
    // the same key again is the same slot
    EXPECT_EQ(taken.count(table->acquire(key("10.0.0.2"), kGroup, kNow)),
              1u);
}

TEST(ResolvedSlots, AReleasedAddressThatComesBackKeepsItsStatistics)
{
    Memory m(LatencyTable::bytes_for(3, 2));
    LatencyTable* table = create(m, {});

    uint32_t a = table->acquire(key("10.0.0.1:80"), kGroup, kNow);
    uint32_t b = table->acquire(key("10.0.0.2:80"), kGroup, kNow);
    table->slot(a).counters.requests = 5;
    EXPECT_EQ(table->find(key("10.0.0.1:80")), a);

    // the list now maps only b: a is released, still holding its key
    EXPECT_EQ(table->acquire(key("10.0.0.2:80"), kGroup, kNow), b);
    EXPECT_EQ(table->release_unmapped(kGroup, mapped(*table, {b}).data()),
              1u);
    EXPECT_EQ(table->find(key("10.0.0.1:80")), a);
    EXPECT_EQ(table->resolved(), 1u);

    EXPECT_EQ(table->acquire(key("10.0.0.1:80"), kGroup, kNow), a);
    EXPECT_EQ(table->slot(a).counters.requests.load(), 5u);
}

TEST(ResolvedSlots, ANewAddressTakesAReleasedIdleSlotClearedWhenNoneIsEmpty)
{
    Memory m(LatencyTable::bytes_for(2, 2));
    LatencyTable* table = create(m, {});

    uint32_t a = table->acquire(key("10.0.0.1:80"), kGroup, kNow);
    uint32_t b = table->acquire(key("10.0.0.2:80"), kGroup, kNow);
    table->slot(a).counters.requests = 5;
    table->slot(b).counters.requests = 6;
    InflightCells::enter(table->cells(b)[1], 1000);

    // both released, b with a request of worker 1 still in flight
    EXPECT_EQ(table->release_unmapped(kGroup, mapped(*table, {}).data()),
              2u);
    uint32_t c = table->acquire(key("10.0.0.3:80"), kGroup, kNow);
    EXPECT_EQ(c, a);
    EXPECT_EQ(table->slot(c).counters.requests.load(), 0u);
    EXPECT_EQ(table->acquire(key("10.0.0.4:80"), kGroup, kNow),
              LatencyTable::npos);

    InflightCells::leave(table->cells(b)[1]);
    EXPECT_EQ(table->acquire(key("10.0.0.4:80"), kGroup, kNow), b);
}

TEST(ResolvedSlots, GroupsReleaseOnlyTheirOwn)
{
    Memory m(LatencyTable::bytes_for(4, 2));
    LatencyTable* table = create(m, {});

    table->acquire(key("10.0.0.1:80"), 1, kNow);
    table->acquire(PeerKey::of("api", "10.0.0.1:80"), 2, kNow);
    EXPECT_EQ(table->release_unmapped(1, mapped(*table, {}).data()), 1u);
    EXPECT_EQ(table->resolved(), 1u);
    EXPECT_EQ(table->release_unmapped(1, mapped(*table, {}).data()), 0u);
}

TEST(ResolvedSlots, GroupsRacingForSlotsGetDistinctOnes)
{
    Memory m(LatencyTable::bytes_for(400, 2));
    LatencyTable* table = create(m, {});
    std::vector<uint32_t> slots[4];

    std::vector<std::thread> threads;
    for (uint32_t g = 0; g < 4; g++) {
        threads.emplace_back([&, g] {
            std::string upstream = "u" + std::to_string(g);
            for (int i = 0; i < 100; i++) {
                slots[g].push_back(table->acquire(
                    PeerKey::of(upstream, std::to_string(i)), g, kNow));
            }
        });
    }
    for (auto& t : threads) {
        t.join();
    }

    std::set<uint32_t> all;
    for (auto& s : slots) {
        all.insert(s.begin(), s.end());
    }
    EXPECT_EQ(all.size(), 400u);
    EXPECT_EQ(all.count(LatencyTable::npos), 0u);
}

// Group 1's addresses come back to the slots they released while group 2's
// new addresses take released slots along their probes, and the status
// looks group 1's up: every address gets a slot of its own, holding its
// key.  Keys are read here while another thread writes them: run under
// -fsanitize=thread (make unit-tsan), a key not made safe to read so is
// reported as a data race.
TEST(ResolvedSlots, ReturningAndNewAddressesRacingGetSlotsOfTheirOwn)
{
    constexpr uint32_t n = 32;
    auto returning = [](uint32_t i) {
        return PeerKey::of("app", std::to_string(i));
    };
    auto joining = [](uint32_t i) {
        return PeerKey::of("api", std::to_string(i));
    };

    for (int round = 0; round < 200; round++) {
        Memory m(LatencyTable::bytes_for(2 * n, 2));
        LatencyTable* table = create(m, {});
        for (uint32_t i = 0; i < n; i++) {
            table->acquire(returning(i), 1, kNow);
        }
        table->release_unmapped(1, mapped(*table, {}).data());

        std::atomic<bool> go{false};
        std::vector<uint32_t> slots(2 * n);
        auto start = [&go] {
            while (!go.load()) {
                std::this_thread::yield();
            }
        };
        std::thread group1([&] {
            start();
            for (uint32_t i = 0; i < n; i++) {
                slots[i] = table->acquire(returning(i), 1, kNow);
            }
        });
        std::thread group2([&] {
            start();
            for (uint32_t i = 0; i < n; i++) {
                slots[n + i] = table->acquire(joining(i), 2, kNow);
            }
        });
        std::thread status([&] {
            start();
            for (uint32_t i = 0; i < n; i++) {
                table->find(returning(i));
            }
        });
        go = true;
        group1.join();
        group2.join();
        status.join();

        std::set<uint32_t> distinct(slots.begin(), slots.end());
        ASSERT_EQ(distinct.count(LatencyTable::npos), 0u);
        ASSERT_EQ(distinct.size(), 2 * n) << "round " << round;
        for (uint32_t i = 0; i < n; i++) {
            ASSERT_EQ(table->slot(slots[i]).key.load(), returning(i));
            ASSERT_EQ(table->slot(slots[n + i]).key.load(), joining(i));
        }
    }
}

TEST(ResolvedSlots, AReloadCarriesThemReleased)
{
    Memory old_memory(LatencyTable::bytes_for(3, 2));
    LatencyTable* old = create(old_memory, keys_of("app", {"a:1"}));
    uint32_t a = old->acquire(key("10.0.0.1:80"), kGroup, kNow);
    old->slot(a).counters.requests = 5;

    Memory m(LatencyTable::bytes_for(4, 2));
    LatencyTable* table = create(m, keys_of("app", {"a:1", "b:1"}), 2,
                                 &old_memory);
    EXPECT_EQ(table->resolved(), 0u);
    uint32_t again = table->acquire(key("10.0.0.1:80"), 3, kNow);
    EXPECT_GE(again, 2u);
    EXPECT_EQ(table->slot(again).counters.requests.load(), 5u);
}

// Until its list maps it again, an address the reload carried while its
// list held it keeps its slot: a new address whose probe reaches that slot
// first takes another (it took the carried one and cleared it, so the
// kept address lost its counts and joined again).
TEST(ResolvedSlots, ASlotCarriedByAReloadIsNotGivenToANewAddress)
{
    Memory old_memory(LatencyTable::bytes_for(8, 2));
    LatencyTable* old = create(old_memory, {});
    uint32_t a = old->acquire(key("10.0.0.1:80"), kGroup, 1000);
    old->slot(a).counters.requests = 5;

    Memory m(LatencyTable::bytes_for(8, 2));
    LatencyTable* table = create(m, {}, 2, &old_memory);
    uint32_t carried = table->find(key("10.0.0.1:80"));
    ASSERT_NE(carried, LatencyTable::npos);
    uint32_t first = table->capacity() - table->resolved_slots();
    PeerKey other{};
    for (int i = 0;; i++) {
        other = PeerKey::of("api", "10.1.0." + std::to_string(i) + ":80");
        if (other.low % table->resolved_slots() == carried - first) {
            break;
        }
    }

    EXPECT_NE(table->acquire(other, kGroup + 2, 5000), carried);
    uint32_t again = table->acquire(key("10.0.0.1:80"), kGroup, 5000);
    EXPECT_EQ(again, carried);
    EXPECT_EQ(table->slot(again).counters.requests.load(), 5u);
    EXPECT_EQ(joined_at(table->slot(again).joined_ms.load()), 1000u);
}

uint64_t joined_ms(const LatencyTable& table, uint32_t slot)
{
    return joined_at(table.slot(slot).joined_ms.load());
}

// Slow start, as for a server added on reload, and one a reload brings
// back from down.
TEST(ResolvedSlots, ANewAddressJoinsAndOneThatComesBackJoinsAgain)
{
    Memory m(LatencyTable::bytes_for(2, 2));
    LatencyTable* table = create(m, {});

    uint32_t a = table->acquire(key("10.0.0.1:80"), kGroup, 1000);
    EXPECT_EQ(joined_ms(*table, a), 1000u);
    // another worker process maps the same list: it joined already
    EXPECT_EQ(table->acquire(key("10.0.0.1:80"), kGroup, 2000), a);
    EXPECT_EQ(joined_ms(*table, a), 1000u);

    // it leaves the list, and comes back
    table->release_unmapped(kGroup, mapped(*table, {}).data());
    EXPECT_EQ(table->acquire(key("10.0.0.1:80"), kGroup, 3000), a);
    EXPECT_EQ(joined_ms(*table, a), 3000u);
}

// As a configured server that a reload keeps: an address in its list at
// the reload keeps its time of joining; one that had left joins again.
TEST(ResolvedSlots, AnAddressHeldAtAReloadKeepsItsTimeOfJoining)
{
    Memory old_memory(LatencyTable::bytes_for(2, 2));
    LatencyTable* old = create(old_memory, {});
    old->acquire(key("10.0.0.1:80"), kGroup, 1000);
    old->acquire(key("10.0.0.2:80"), kGroup + 1, 1000);
    old->release_unmapped(kGroup + 1, mapped(*old, {}).data());

    Memory m(LatencyTable::bytes_for(2, 2));
    LatencyTable* table = create(m, {}, 2, &old_memory);
    uint32_t stayed = table->acquire(key("10.0.0.1:80"), 3, 5000);
    uint32_t back = table->acquire(key("10.0.0.2:80"), 4, 5000);
    EXPECT_EQ(joined_ms(*table, stayed), 1000u);
    EXPECT_EQ(joined_ms(*table, back), 5000u);
}

}  // namespace
}  // namespace upstream_latency
