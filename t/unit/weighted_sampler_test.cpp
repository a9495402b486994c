#include "core/selection.hpp"
#include "core/weighted_sampler.hpp"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace upstream_latency {
namespace {

struct Sampler {
    explicit Sampler(std::vector<uint32_t> w) : weights(std::move(w))
    {
        entries.resize(weights.size());
        WeightedSampler::build(weights.data(), weights.size(),
                               entries.data());
    }
    WeightedSampler view() const
    {
        return {entries.data(), weights.data(), weights.size()};
    }
    std::vector<uint32_t> weights;
    std::vector<AliasEntry> entries;
};

template <class Usable>
std::vector<int> counts(const Sampler& s, int draws, Usable usable,
                        uint64_t seed = 1)
{
    Rng rng(seed);
    std::vector<int> n(s.weights.size(), 0);
    for (int i = 0; i < draws; i++) {
        std::size_t k = s.view().draw(rng, usable);
        EXPECT_NE(k, WeightedSampler::npos);
        n[k]++;
    }
    return n;
}

// Pearson's chi-square statistic of counts against shares of weights
// among the indexes in use.
double chi_square(const std::vector<int>& n, const std::vector<double>& share)
{
    double total = 0;
    for (int x : n) {
        total += x;
    }
    double chi = 0;
    for (std::size_t i = 0; i < n.size(); i++) {
        if (share[i] == 0) {
            EXPECT_EQ(n[i], 0) << "index " << i;
            continue;
        }
        double expected = total * share[i];
        chi += (n[i] - expected) * (n[i] - expected) / expected;
    }
    return chi;
}

// chi-square critical values at significance 0.001
constexpr double kChi3 = 16.27;  // 3 degrees of freedom
constexpr double kChi2 = 13.82;  // 2 degrees of freedom

auto all = [](std::size_t) { return true; };

TEST(WeightedSampler, DrawsByWeightOneTwoThreeFour)
{
    Sampler s({1, 2, 3, 4});
    auto n = counts(s, 100'000, all);
    EXPECT_LT(chi_square(n, {0.1, 0.2, 0.3, 0.4}), kChi3);
}

TEST(WeightedSampler, ChiSquareCatchesAWrongDistribution)
{
    // the test above can fail: uniform draws are far from 1:2:3:4
    Sampler s({1, 1, 1, 1});
    auto n = counts(s, 100'000, all);
    EXPECT_GT(chi_square(n, {0.1, 0.2, 0.3, 0.4}), kChi3);
}

TEST(WeightedSampler, DifferentSeedsGiveDifferentSequences)
{
    Sampler s({1, 1, 1, 1, 1, 1, 1, 1});
    Rng a(1), b(2);
    int same = 0;
    for (int i = 0; i < 100; i++) {
        same += s.view().sample(a) == s.view().sample(b);
    }
    EXPECT_LT(same, 30);
}

TEST(WeightedSampler, SkipsUnusablePeersKeepingTheOthersShares)
{
    // index 1 is down, failed or tried: the rest keep 1:3:4
    Sampler s({1, 2, 3, 4});
    auto n = counts(s, 100'000, [](std::size_t i) { return i != 1; });
    EXPECT_LT(chi_square(n, {1 / 8.0, 0, 3 / 8.0, 4 / 8.0}), kChi2);
}

TEST(WeightedSampler, MostlyUnusableFallsBackToOnePassWithTheSameShares)
{
    // 97 of 100 peers unusable: the rejection draws mostly miss
    std::vector<uint32_t> w(100, 1);
    w[10] = 1;
    w[50] = 2;
    w[90] = 3;
    Sampler s(w);
    auto usable = [](std::size_t i) { return i == 10 || i == 50 || i == 90; };
    auto n = counts(s, 60'000, usable);
    std::vector<double> share(100, 0);
    share[10] = 1 / 6.0;
    share[50] = 2 / 6.0;
    share[90] = 3 / 6.0;
    EXPECT_LT(chi_square(n, share), kChi2);
}

TEST(WeightedSampler, NothingUsableGivesNpos)
{
    Sampler s({1, 2, 3});
    Rng rng(7);
    EXPECT_EQ(s.view().draw(rng, [](std::size_t) { return false; }),
              WeightedSampler::npos);
}

TEST(WeightedSampler, SinglePeer)
{
    Sampler s({5});
    EXPECT_EQ(counts(s, 100, all), (std::vector<int>{100}));
}

TEST(WeightedSampler, SecondDrawNeverRepeatsTheFirst)
{
    Sampler s({1, 100});
    Rng rng(3);
    for (int i = 0; i < 1000; i++) {
        std::size_t first = s.view().draw(rng, all);
        std::size_t second = s.view().draw(
            rng, [first](std::size_t k) { return k != first; });
        ASSERT_NE(first, second);
    }
}

TEST(Rng, BelowStaysInRangeAndCoversIt)
{
    Rng rng(11);
    std::set<uint64_t> seen;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = rng.below(7);
        ASSERT_LT(x, 7u);
        seen.insert(x);
    }
    EXPECT_EQ(seen.size(), 7u);
}

TEST(Rng, MulHigh64IsTheHighHalfOfTheProduct)
{
    EXPECT_EQ(mul_high64(0, UINT64_MAX), 0u);
    EXPECT_EQ(mul_high64(1ull << 32, 1ull << 32), 1u);
    EXPECT_EQ(mul_high64(1ull << 63, 2), 1u);
    EXPECT_EQ(mul_high64(UINT64_MAX, 7), 6u);
    EXPECT_EQ(mul_high64(UINT64_MAX, UINT64_MAX), UINT64_MAX - 1);
    EXPECT_EQ(mul_high64(0x9e3779b97f4a7c15, 0xbf58476d1ce4e5b9),
              0x7641f3080ff92329u);
#if defined(__SIZEOF_INT128__)
    Rng rng(3);
    for (int i = 0; i < 100'000; i++) {
        uint64_t a = rng.next();
        uint64_t b = rng.next() >> (i % 64);
        ASSERT_EQ(mul_high64(a, b),
                  static_cast<uint64_t>(
                      (static_cast<unsigned __int128>(a) * b) >> 64));
    }
#endif
}

// With or without unsigned __int128 (make unit-m32), a seed draws alike.
TEST(Rng, BelowDrawsAlikeOnEveryTarget)
{
    Rng rng(11);
    for (uint64_t expected : {316244395u, 262365153u, 638042346u,
                              504614034u, 165192551u, 551937696u}) {
        EXPECT_EQ(rng.below(1'000'000'007), expected);
    }
}

TEST(TwoChoices, TheLowerScoreWins)
{
    Rng rng(5);
    for (int i = 0; i < 100; i++) {
        EXPECT_TRUE(first_is_better({0, 1, 5000}, {1, 1, 100000}, kNoiseFloorUs,
                                    rng));
        EXPECT_FALSE(first_is_better({0, 1, 100000}, {1, 1, 5000}, kNoiseFloorUs,
                                     rng));
    }
}

TEST(TwoChoices, TiesAreSettledAtRandom)
{
    Rng rng(5);
    int first = 0;
    for (int i = 0; i < 10'000; i++) {
        first += first_is_better({0, 1, 5000}, {1, 1, 5100}, kNoiseFloorUs, rng);
    }
    // binomial(10000, 0.5): 5000 +- 5 sigma (250)
    EXPECT_NEAR(first, 5000, 250);
}

}  // namespace
}  // namespace upstream_latency
