#include "core/peak_ewma.hpp"

#include <gtest/gtest.h>

namespace upstream_latency {
namespace {

constexpr Decay kSecond{1000};
constexpr uint64_t kStart = 5'000'000'000;  // us since boot

uint64_t sampled(uint64_t packed, uint64_t us, SampleKind kind,
                 uint64_t now = kStart)
{
    return PeakEwma::with_sample(packed, us, kind, now, kSecond);
}

TEST(PeakEwma, HasNoEstimateBeforeTheFirstSample)
{
    EXPECT_FALSE(PeakEwma::measured(0));
    EXPECT_EQ(PeakEwma::read(0, kStart, kSecond), 0.0);
}

TEST(PeakEwma, FirstSampleIsTheEstimate)
{
    uint64_t e = sampled(0, 2000, SampleKind::exact);
    EXPECT_TRUE(PeakEwma::measured(e));
    EXPECT_DOUBLE_EQ(PeakEwma::read(e, kStart, kSecond), 2000);
}

TEST(PeakEwma, TellsTwoFromEightMilliseconds)
{
    double two = PeakEwma::read(sampled(0, 2000, SampleKind::exact), kStart,
                                kSecond);
    double eight = PeakEwma::read(sampled(0, 8000, SampleKind::exact), kStart,
                                  kSecond);
    EXPECT_LT(two * 3, eight);
}

TEST(PeakEwma, SlowerSampleReplacesTheEstimateAtOnce)
{
    uint64_t e = sampled(sampled(0, 2000, SampleKind::exact), 9000,
                         SampleKind::exact);
    EXPECT_DOUBLE_EQ(PeakEwma::read(e, kStart, kSecond), 9000);
}

TEST(PeakEwma, FasterSampleMovesTheEstimateByAQuarter)
{
    uint64_t e = sampled(sampled(0, 8000, SampleKind::exact), 4000,
                         SampleKind::exact);
    EXPECT_DOUBLE_EQ(PeakEwma::read(e, kStart, kSecond), 7000);
}

TEST(PeakEwma, LowerBoundNeverLowersTheEstimate)
{
    uint64_t e = sampled(0, 8000, SampleKind::exact);
    // a refused connection after 100 us says nothing about speed
    EXPECT_EQ(sampled(e, 100, SampleKind::lower_bound), e);
}

TEST(PeakEwma, LowerBoundAboveTheEstimateRaisesIt)
{
    uint64_t e = sampled(sampled(0, 8000, SampleKind::exact), 60'000'000,
                         SampleKind::lower_bound);
    EXPECT_DOUBLE_EQ(PeakEwma::read(e, kStart, kSecond), 60'000'000);
}

TEST(PeakEwma, LowerBoundIsAFirstSampleToo)
{
    uint64_t e = sampled(0, 3000, SampleKind::lower_bound);
    EXPECT_DOUBLE_EQ(PeakEwma::read(e, kStart, kSecond), 3000);
}

TEST(PeakEwma, HoldsForAHalfLifeThenHalvesEveryHalfLife)
{
    uint64_t e = sampled(0, 4'000'000, SampleKind::exact);
    EXPECT_DOUBLE_EQ(PeakEwma::read(e, kStart + 500'000, kSecond), 4'000'000);
    EXPECT_DOUBLE_EQ(PeakEwma::read(e, kStart + 1'000'000, kSecond),
                     4'000'000);
    EXPECT_NEAR(PeakEwma::read(e, kStart + 2'000'000, kSecond), 2'000'000, 1);
    EXPECT_NEAR(PeakEwma::read(e, kStart + 4'000'000, kSecond), 500'000, 1);
}

TEST(PeakEwma, FourSecondPeerLooksFastAgainWithinElevenSeconds)
{
    // others answer in 5 ms; ties are within 1/8, see selection.hpp
    uint64_t e = sampled(0, 4'000'000, SampleKind::exact);
    EXPECT_GT(PeakEwma::read(e, kStart + 10'000'000, kSecond), 5000 * 1.125);
    EXPECT_LT(PeakEwma::read(e, kStart + 11'000'000, kSecond), 5000 * 1.125);
}

TEST(PeakEwma, DecayStartsFromTheDecayedValue)
{
    uint64_t e = sampled(0, 8000, SampleKind::exact);
    // two half-lives later the estimate is 4000; a 4000 sample keeps it
    uint64_t later = kStart + 2'000'000;
    e = sampled(e, 4000, SampleKind::exact, later);
    EXPECT_NEAR(PeakEwma::read(e, later, kSecond), 4000, 1);
}

TEST(PeakEwma, SampleStampedByAnotherWorkerAMomentLaterDoesNotGrow)
{
    uint64_t e = sampled(0, 8000, SampleKind::exact, kStart + 5000);
    EXPECT_DOUBLE_EQ(PeakEwma::read(e, kStart, kSecond), 8000);
}

TEST(PeakEwma, DecayIsCorrectAcrossTheMillisecondClockWrap)
{
    uint64_t wrap = (uint64_t{1} << PeakEwma::kStampBits) * 1000;
    uint64_t e = sampled(0, 8000, SampleKind::exact, wrap - 1'000'000);
    EXPECT_NEAR(PeakEwma::read(e, wrap + 1'000'000, kSecond), 4000, 1);
}

TEST(PeakEwma, AMonthOldEstimateHasFaded)
{
    // 32-bit millisecond stamps would have made it fresh again
    uint64_t e = sampled(0, 10'000'000, SampleKind::lower_bound);
    uint64_t month = uint64_t{30} * 24 * 3600 * 1'000'000;
    EXPECT_LT(PeakEwma::read(e, kStart + month, kSecond), 1);
}

TEST(PeakEwma, HugeSamplesSaturate)
{
    uint64_t e = sampled(0, uint64_t{1} << 40, SampleKind::exact);
    EXPECT_DOUBLE_EQ(PeakEwma::read(e, kStart, kSecond), PeakEwma::kMaxMicros);
}

TEST(PeakEwma, ZeroSampleStillCountsAsMeasured)
{
    EXPECT_TRUE(PeakEwma::measured(sampled(0, 0, SampleKind::exact)));
}

TEST(PeakEwma, RecordUpdatesTheAtomicCell)
{
    std::atomic<uint64_t> cell{0};
    PeakEwma::record(cell, 2500, SampleKind::exact, kStart, kSecond);
    EXPECT_DOUBLE_EQ(PeakEwma::read(cell.load(), kStart, kSecond), 2500);
}

}  // namespace
}  // namespace upstream_latency

namespace upstream_latency {
namespace {

TEST(Decay, TabulatedFactorsAreTheComputedOnes)
{
    for (uint32_t half_life_ms : {1u, 7u, 1000u, 86'400'000u}) {
        double table[Decay::kTableSize];
        Decay::tabulate(half_life_ms, table);
        Decay computed{half_life_ms};
        Decay tabulated{half_life_ms, table};

        for (int64_t ms = -2; ms < Decay::kTabulatedMs + 3; ms++) {
            EXPECT_NEAR(tabulated.factor(ms), computed.factor(ms),
                        computed.factor(ms) * 1e-12)
                << "half-life " << half_life_ms << " ms, " << ms << " ms";
        }
    }
}

TEST(FailureSample, IsAtLeastFailTimeoutAndAtLeastOneSecond)
{
    EXPECT_EQ(failure_sample_us(100, 10), 10'000'000u);
    EXPECT_EQ(failure_sample_us(100, 0), 1'000'000u);
    EXPECT_EQ(failure_sample_us(60'000'000, 10), 60'000'000u);
}

TEST(FailureSample, RefusedPeerNeverLooksFasterThanASlowOne)
{
    uint64_t refused = PeakEwma::with_sample(
        0, failure_sample_us(100, 10), SampleKind::lower_bound, kStart,
        kSecond);
    EXPECT_GT(PeakEwma::read(refused, kStart, kSecond), 1'000'000);
}

}  // namespace
}  // namespace upstream_latency
