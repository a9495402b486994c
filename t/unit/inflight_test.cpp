#include "core/inflight.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace upstream_latency {
namespace {

constexpr uint64_t kStart = 7'000'000'000;

TEST(InflightCells, EmptyCellsReadZero)
{
    InflightCell cells[3]{};
    Inflight now = InflightCells::read(cells, 3, kStart);
    EXPECT_EQ(now.active, 0u);
    EXPECT_EQ(now.waiting, 0u);
    EXPECT_EQ(now.mean_wait_us, 0.0);
}

TEST(InflightCells, SumsWorkersAndTheMeanWaitOfThoseWaiting)
{
    InflightCell cells[2]{};
    ASSERT_TRUE(InflightCells::enter(cells[0], kStart));
    ASSERT_TRUE(InflightCells::enter(cells[1], kStart + 3000));
    ASSERT_TRUE(InflightCells::enter(cells[1], kStart + 4000));

    Inflight now = InflightCells::read(cells, 2, kStart + 5000);
    EXPECT_EQ(now.active, 3u);
    EXPECT_EQ(now.waiting, 3u);
    EXPECT_DOUBLE_EQ(now.mean_wait_us, (5000 + 2000 + 1000) / 3.0);

    // the first one's header arrives: still active, no longer waiting
    InflightCells::answered(cells[0], kStart);
    now = InflightCells::read(cells, 2, kStart + 5000);
    EXPECT_EQ(now.active, 3u);
    EXPECT_EQ(now.waiting, 2u);
    EXPECT_DOUBLE_EQ(now.mean_wait_us, (2000 + 1000) / 2.0);

    InflightCells::leave(cells[0]);
    InflightCells::answered(cells[1], kStart + 3000);
    InflightCells::leave(cells[1]);
    InflightCells::answered(cells[1], kStart + 4000);
    InflightCells::leave(cells[1]);
    EXPECT_EQ(cells[0].active.load() | cells[0].waiting.load()
                  | cells[1].active.load() | cells[1].waiting.load(),
              0u);
}

TEST(InflightCells, ExactAcrossTheWrapOfTheStamps)
{
    InflightCell cell{};
    uint64_t near_wrap = (InflightCells::kSumMask - 10) * 1000;
    ASSERT_TRUE(InflightCells::enter(cell, near_wrap));
    ASSERT_TRUE(InflightCells::enter(cell, near_wrap + 20'000));

    Inflight now = InflightCells::read(&cell, 1, near_wrap + 30'000);
    EXPECT_DOUBLE_EQ(now.mean_wait_us, (30'000 + 10'000) / 2.0);
}

TEST(InflightCells, TheLimitIsPerRequestNotPerSum)
{
    // every request of a full cell has waited 20 days, in each of many
    // workers: the total is far beyond 2^48 ms, each wait is exact
    constexpr uint64_t kTwentyDays = uint64_t{20} * 24 * 3600 * 1'000'000;
    InflightCell cells[64]{};
    for (InflightCell& cell : cells) {
        for (uint64_t i = 0; i < InflightCells::kMaxWaiting; i++) {
            ASSERT_TRUE(InflightCells::enter(cell, kStart));
        }
    }

    Inflight now = InflightCells::read(cells, 64, kStart + kTwentyDays);
    EXPECT_EQ(now.waiting, 64 * InflightCells::kMaxWaiting);
    EXPECT_DOUBLE_EQ(now.mean_wait_us, kTwentyDays);
}

TEST(InflightCells, AFullCellStillCountsActiveRequests)
{
    InflightCell cell{};
    for (uint64_t i = 0; i < InflightCells::kMaxWaiting; i++) {
        ASSERT_TRUE(InflightCells::enter(cell, kStart));
    }
    EXPECT_FALSE(InflightCells::enter(cell, kStart));
    EXPECT_EQ(InflightCells::read(&cell, 1, kStart).active,
              InflightCells::kMaxWaiting + 1);
}

TEST(InflightCells, RequestEnteredAfterTheReadingCountsAsNotWaiting)
{
    InflightCell cell{};
    ASSERT_TRUE(InflightCells::enter(cell, kStart + 5000));
    Inflight now = InflightCells::read(&cell, 1, kStart);
    EXPECT_EQ(now.waiting, 1u);
    EXPECT_EQ(now.mean_wait_us, 0.0);
}

TEST(InflightCells, ClearingADeadWorkersCellReturnsWhatItHad)
{
    InflightCell cell{};
    InflightCells::enter(cell, kStart);
    InflightCells::enter(cell, kStart);
    InflightCells::answered(cell, kStart);
    EXPECT_EQ(InflightCells::clear(cell), 2u);
    EXPECT_EQ(cell.active.load() | cell.waiting.load(), 0u);
}


// Two processes that share a row (a binary upgrade rolled back) lose no
// update of a cell: each request that enters, waits, is answered and
// leaves in either leaves the cell empty.
TEST(InflightCells, ProcessesSharingACellLoseNoUpdate)
{
    InflightCell cell{};
    std::atomic<int> ready{0};
    auto requests = [&cell, &ready](uint64_t start_us) {
        ready++;
        while (ready.load() < 2) {
        }
        for (int i = 0; i < 1'000'000; i++) {
            bool waiting = InflightCells::enter(cell, start_us);
            if (waiting) {
                InflightCells::answered(cell, start_us);
            }
            InflightCells::leave(cell);
        }
    };
    std::vector<std::thread> processes;
    processes.emplace_back(requests, 5'000'000);
    processes.emplace_back(requests, 7'000'000);
    for (std::thread& process : processes) {
        process.join();
    }
    EXPECT_EQ(cell.active.load(), 0u);
    EXPECT_EQ(cell.waiting.load(), 0u);
}

}  // namespace
}  // namespace upstream_latency
