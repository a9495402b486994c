#include "core/inflight_gauge.hpp"

#include <gtest/gtest.h>

namespace upstream_latency {
namespace {

constexpr uint64_t kStart = 7'000'000'000;

TEST(InflightGauge, EmptyGaugeReadsZero)
{
    Inflight now = InflightGauge::read(0, kStart);
    EXPECT_EQ(now.count, 0u);
    EXPECT_EQ(now.mean_elapsed_us, 0.0);
}

TEST(InflightGauge, CountsRequestsAndTheirMeanWait)
{
    std::atomic<uint64_t> cell{0};
    ASSERT_TRUE(InflightGauge::enter(cell, kStart));
    ASSERT_TRUE(InflightGauge::enter(cell, kStart + 3000));

    Inflight now = InflightGauge::read(cell.load(), kStart + 5000);
    EXPECT_EQ(now.count, 2u);
    EXPECT_DOUBLE_EQ(now.mean_elapsed_us, (5000 + 2000) / 2.0);

    InflightGauge::leave(cell, kStart);
    now = InflightGauge::read(cell.load(), kStart + 5000);
    EXPECT_EQ(now.count, 1u);
    EXPECT_DOUBLE_EQ(now.mean_elapsed_us, 2000);

    InflightGauge::leave(cell, kStart + 3000);
    EXPECT_EQ(cell.load(), 0u);
}

TEST(InflightGauge, SumIsExactAcrossTheModularWrap)
{
    std::atomic<uint64_t> cell{0};
    uint64_t near_wrap = InflightGauge::kSumMask - 10;
    ASSERT_TRUE(InflightGauge::enter(cell, near_wrap));
    ASSERT_TRUE(InflightGauge::enter(cell, near_wrap + 20));

    Inflight now = InflightGauge::read(cell.load(), near_wrap + 30);
    EXPECT_EQ(now.count, 2u);
    EXPECT_DOUBLE_EQ(now.mean_elapsed_us, (30 + 10) / 2.0);
}

TEST(InflightGauge, ARequestEnteredJustAfterTheReadingDoesNotLookAncient)
{
    // another worker read the clock after this one and entered first
    std::atomic<uint64_t> cell{0};
    ASSERT_TRUE(InflightGauge::enter(cell, kStart + 5));
    Inflight now = InflightGauge::read(cell.load(), kStart);
    EXPECT_EQ(now.count, 1u);
    EXPECT_DOUBLE_EQ(now.mean_elapsed_us, 0);
}

TEST(InflightGauge, RefusesToOverflowTheCount)
{
    std::atomic<uint64_t> cell{0};
    for (uint32_t i = 0; i < InflightGauge::kMaxCount; i++) {
        ASSERT_TRUE(InflightGauge::enter(cell, kStart));
    }
    EXPECT_FALSE(InflightGauge::enter(cell, kStart));
    EXPECT_EQ(InflightGauge::read(cell.load(), kStart).count,
              InflightGauge::kMaxCount);
}

TEST(InflightGauge, LeavingAnEmptyGaugeChangesNothing)
{
    std::atomic<uint64_t> cell{0};
    InflightGauge::leave(cell, kStart);
    EXPECT_EQ(cell.load(), 0u);
}

}  // namespace
}  // namespace upstream_latency
