#include "core/peak_ewma.hpp"
#include "core/upstream_clock.hpp"

#include <gtest/gtest.h>

namespace upstream_latency {
namespace {

constexpr uint64_t kHold = 1000;          // ms, the default half-life
constexpr uint64_t kBoot = 5'000'000;     // ms since boot

TEST(UpstreamClock, HasNoPauseBeforeTheFirstRequest)
{
    UpstreamClock clock;
    EXPECT_EQ(clock.paused_ms(kBoot, kHold), 0u);
    EXPECT_EQ(clock.serve(kBoot, kHold), 0u);
    EXPECT_EQ(clock.paused_ms(kBoot, kHold), 0u);
}

TEST(UpstreamClock, GapsUpToTheHoldAreNoPause)
{
    UpstreamClock clock;
    uint64_t now = kBoot;
    for (int i = 0; i < 100; i++, now += kHold) {
        EXPECT_EQ(clock.serve(now, kHold), 0u) << i;
    }
}

TEST(UpstreamClock, CountsAPauseBeyondTheHold)
{
    UpstreamClock clock;
    clock.serve(kBoot, kHold);
    // while it lasts, and after the request that ends it
    EXPECT_EQ(clock.paused_ms(kBoot + 400, kHold), 0u);
    EXPECT_EQ(clock.paused_ms(kBoot + 10'000, kHold), 9'000u);
    EXPECT_EQ(clock.serve(kBoot + 10'000, kHold), 9'000u);
    EXPECT_EQ(clock.paused_ms(kBoot + 10'500, kHold), 9'000u);
    // pauses add up
    clock.serve(kBoot + 10'500, kHold);
    EXPECT_EQ(clock.serve(kBoot + 13'500, kHold), 11'000u);
}

TEST(UpstreamClock, ReadsAStartAMomentLaterAsNoPause)
{
    UpstreamClock clock;
    clock.serve(kBoot, kHold);
    clock.serve(kBoot + 5'000, kHold);  // 4 s paused
    // another process read the clock just before that start
    EXPECT_EQ(clock.paused_ms(kBoot + 4'999, kHold), 4'000u);
    EXPECT_EQ(clock.serve(kBoot + 4'990, kHold), 4'000u);
    EXPECT_EQ(clock.paused_ms(kBoot + 5'000, kHold), 4'000u);
}

TEST(UpstreamClock, CopiesAnotherClock)
{
    UpstreamClock clock, next;
    clock.serve(kBoot, kHold);
    clock.serve(kBoot + 3'000, kHold);
    next.copy(clock);
    EXPECT_EQ(next.paused_ms(kBoot + 3'000, kHold), 2'000u);
    EXPECT_EQ(next.paused_ms(kBoot + 6'000, kHold), 4'000u);
}

// The estimates of an upstream that idles keep what they knew: a 12 ms
// server is still 12 ms when requests start again ten seconds later, and
// three times slower than a 4 ms one; on the monotonic clock alone both
// had decayed to next to nothing.
TEST(UpstreamClock, KeepsEstimatesThroughAPause)
{
    double factors[Decay::kTableSize];
    Decay::tabulate(kHold, factors);
    Decay decay{static_cast<uint32_t>(kHold), factors};
    UpstreamClock clock;

    uint64_t now_ms = kBoot;
    decay.paused_ms = clock.serve(now_ms, kHold);
    uint64_t slow = PeakEwma::with_sample(0, 12'000, SampleKind::exact,
                                          now_ms * 1000, decay);
    uint64_t fast = PeakEwma::with_sample(0, 4'000, SampleKind::exact,
                                          now_ms * 1000, decay);

    now_ms += 10'000;
    Decay monotonic = decay;
    EXPECT_LT(PeakEwma::read_ms(slow, now_ms, monotonic), 30);

    decay.paused_ms = clock.serve(now_ms, kHold);
    EXPECT_DOUBLE_EQ(PeakEwma::read_ms(slow, now_ms, decay), 12'000);
    EXPECT_DOUBLE_EQ(PeakEwma::read_ms(fast, now_ms, decay), 4'000);

    // and fade as before once the upstream serves again: held for the
    // second before the pause, then halved twice in two seconds of service
    for (int i = 0; i < 20; i++) {
        now_ms += 100;
        decay.paused_ms = clock.serve(now_ms, kHold);
    }
    EXPECT_NEAR(PeakEwma::read_ms(slow, now_ms, decay), 3'000, 1);
}

// A sample recorded while a pause is under way (the header of a request
// that started long before) is stamped on the time the pause ends in: it
// is not read later as from the future, held beyond its time.
TEST(UpstreamClock, StampsSamplesOfAPauseOnItsTime)
{
    double factors[Decay::kTableSize];
    Decay::tabulate(kHold, factors);
    Decay decay{static_cast<uint32_t>(kHold), factors};
    UpstreamClock clock;

    clock.serve(kBoot, kHold);
    uint64_t ended_ms = kBoot + 5'000;  // its only request's header
    decay.paused_ms = clock.paused_ms(ended_ms, kHold);
    uint64_t e = PeakEwma::with_sample(0, 5'000'000, SampleKind::exact,
                                       ended_ms * 1000, decay);

    // requests again 10 s later, one every 100 ms for 2 s: held for 1 s
    // of them, then halved once
    uint64_t now_ms = ended_ms + 10'000;
    for (int i = 0; i <= 20; i++, now_ms += 100) {
        decay.paused_ms = clock.serve(now_ms, kHold);
    }
    EXPECT_NEAR(PeakEwma::read_ms(e, now_ms - 100, decay), 2'500'000, 1'000);
}

}  // namespace
}  // namespace upstream_latency
