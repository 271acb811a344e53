// Metrics against hand-computed cases; maj@k order independence; bootstrap determinism; sweep
// summaries of synthetic curves.
#include <algorithm>
#include <random>

#include "eval/metrics.h"
#include "eval/sweep.h"
#include "gtest/gtest.h"

namespace kiln::eval {
namespace {

TEST(PassAtK, HandComputed) {
  EXPECT_DOUBLE_EQ(*PassAtK(5, 0, 1), 0.0);             // c = 0
  EXPECT_DOUBLE_EQ(*PassAtK(5, 5, 3), 1.0);             // c = n
  EXPECT_DOUBLE_EQ(*PassAtK(5, 2, 1), 0.4);             // pass@1 = c / n
  EXPECT_NEAR(*PassAtK(5, 2, 2), 1.0 - 3.0 / 10.0, 1e-15);  // 1 - C(3,2)/C(5,2)
  EXPECT_NEAR(*PassAtK(10, 3, 4), 1.0 - 35.0 / 210.0, 1e-15);  // 1 - C(7,4)/C(10,4)
  EXPECT_DOUBLE_EQ(*PassAtK(4, 1, 4), 1.0);             // k = n with one correct
  EXPECT_DOUBLE_EQ(*PassAtK(4, 0, 4), 0.0);             // k = n, none correct
  EXPECT_DOUBLE_EQ(*PassAtK(4, 4, 4), 1.0);             // c = n, k = n
  EXPECT_DOUBLE_EQ(*PassAtK(1, 1, 1), 1.0);
  EXPECT_DOUBLE_EQ(*PassAtK(1, 0, 1), 0.0);
  EXPECT_NEAR(*PassAtK(3, 1, 2), 1.0 - 1.0 / 3.0, 1e-15);   // 1 - C(2,2)/C(3,2)
  // Large n: no overflow (C(1000, 500) is ~1e299).
  EXPECT_NEAR(*PassAtK(1000, 1, 500), 0.5, 1e-12);
}

TEST(PassAtK, BadArgumentsAreErrors) {
  auto r = PassAtK(4, 1, 5);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "pass@k: k = 5 is larger than the number of samples n = 4");
  EXPECT_FALSE(PassAtK(4, 5, 1).ok());
  EXPECT_FALSE(PassAtK(4, -1, 1).ok());
  EXPECT_FALSE(PassAtK(4, 1, 0).ok());
  EXPECT_FALSE(AvgAtK(0, 0).ok());
  EXPECT_DOUBLE_EQ(*AvgAtK(8, 2), 0.25);
  EXPECT_DOUBLE_EQ(*AvgAtK(8, 0), 0.0);  // c = 0
  EXPECT_DOUBLE_EQ(*AvgAtK(8, 8), 1.0);  // c = n
  EXPECT_FALSE(AvgAtK(8, 9).ok());
  auto big = PassAtK(3, 3, 10);  // k > n is an error even when every sample is correct
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().message(), "pass@k: k = 10 is larger than the number of samples n = 3");
}

TEST(MajAtK, VotesTiesAndNoAnswer) {
  EXPECT_EQ(MajAtK({{"9", true}, {"9", true}, {"8", false}}), 1.0);
  EXPECT_EQ(MajAtK({{"8", false}, {"8", false}, {"9", true}}), 0.0);
  EXPECT_EQ(MajAtK({{"", false}, {"", false}, {"9", true}}), 1.0);  // no-answer samples don't vote
  EXPECT_EQ(MajAtK({{"", false}}), 0.0);
  EXPECT_EQ(MajAtK({}), 0.0);
  // Tie 1-1: the lexicographically smallest answer wins ("10" < "9"), in any order.
  EXPECT_EQ(MajAtK({{"9", true}, {"10", false}}), 0.0);
  EXPECT_EQ(MajAtK({{"10", false}, {"9", true}}), 0.0);
}

TEST(MajAtK, PermutationInvariant) {
  std::vector<Vote> votes = {{"a", false}, {"b", true}, {"c", false}, {"b", true},
                             {"a", false}, {"", false}, {"c", false}, {"d", false}};
  const double expect = MajAtK(votes);
  std::mt19937 gen(3);
  for (int i = 0; i < 50; ++i) {
    std::shuffle(votes.begin(), votes.end(), gen);
    EXPECT_EQ(MajAtK(votes), expect);
  }
}

TEST(MajAtK, TieRuleIsOrderIndependentUnderEveryPermutation) {
  // Two answers tied at 2 votes ("=24" correct, "x" wrong) and one with 1: "=24" < "x" wins.
  std::vector<Vote> votes = {{"x", false}, {"=24", true}, {"x", false}, {"=24", true}, {"y", false}};
  std::sort(votes.begin(), votes.end(),
            [](const Vote& a, const Vote& b) { return a.answer < b.answer; });
  int perms = 0;
  do {
    EXPECT_EQ(MajAtK(votes), 1.0);
    ++perms;
  } while (std::next_permutation(votes.begin(), votes.end(), [](const Vote& a, const Vote& b) {
    return a.answer < b.answer;
  }));
  EXPECT_EQ(perms, 30);  // 5! / (2! 2!)
}

TEST(Bootstrap, DeterministicAndSane) {
  std::vector<double> v = {1, 0, 1, 1, 0, 1, 0, 1, 1, 1};
  auto a = BootstrapMean(v, 7), b = BootstrapMean(v, 7);
  ASSERT_TRUE(a.ok());
  EXPECT_DOUBLE_EQ(a->mean, 0.7);
  EXPECT_EQ(a->lo, b->lo);
  EXPECT_EQ(a->hi, b->hi);
  EXPECT_LT(a->lo, 0.7);
  EXPECT_GT(a->hi, 0.7);
  EXPECT_GE(a->lo, 0.0);
  EXPECT_LE(a->hi, 1.0);
  auto same = BootstrapMean({0.5, 0.5, 0.5}, 1);
  EXPECT_DOUBLE_EQ(same->lo, 0.5);
  EXPECT_DOUBLE_EQ(same->hi, 0.5);
  EXPECT_FALSE(BootstrapMean({}, 1).ok());
  // Paired: b = a + 0.25 on every prompt gives exactly 0.25 in every resample.
  std::vector<double> w;
  for (double x : v) w.push_back(x + 0.25);
  auto d = PairedBootstrapDiff(v, w, 3);
  EXPECT_DOUBLE_EQ(d->mean, 0.25);
  EXPECT_DOUBLE_EQ(d->lo, 0.25);
  EXPECT_DOUBLE_EQ(d->hi, 0.25);
  EXPECT_FALSE(PairedBootstrapDiff(v, {1.0}, 3).ok());
}

TEST(Sweep, DipAndRecovery) {
  auto s = SummarizeSweep({0, 10, 20, 40, 80, 160}, {0.30, 0.20, 0.12, 0.25, 0.31, 0.40});
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->dipped);
  EXPECT_NEAR(s->dip_depth, 0.18, 1e-12);
  EXPECT_EQ(s->min_step, 20);
  ASSERT_TRUE(s->recovery_step.has_value());
  EXPECT_EQ(*s->recovery_step, 80);
  EXPECT_NEAR(s->final_gain, 0.10, 1e-12);
}

TEST(Sweep, RecoveryAtExactlyBaselineAndDipAtTheEnd) {
  auto s = SummarizeSweep({0, 10, 20, 40}, {0.5, 0.25, 0.5, 0.75});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->min_step, 10);
  EXPECT_DOUBLE_EQ(s->dip_depth, 0.25);
  ASSERT_TRUE(s->recovery_step.has_value());
  EXPECT_EQ(*s->recovery_step, 20);  // "at or above the baseline"
  auto last = SummarizeSweep({0, 10, 20}, {0.5, 0.6, 0.25});
  EXPECT_TRUE(last->dipped);
  EXPECT_EQ(last->min_step, 20);
  EXPECT_FALSE(last->recovery_step.has_value());
  EXPECT_DOUBLE_EQ(last->final_gain, -0.25);
}

TEST(Sweep, NoDipAndNoRecovery) {
  auto up = SummarizeSweep({0, 10, 20}, {0.3, 0.35, 0.5});
  EXPECT_FALSE(up->dipped);
  EXPECT_EQ(up->dip_depth, 0.0);
  EXPECT_FALSE(up->recovery_step.has_value());
  auto down = SummarizeSweep({0, 10, 20, 40}, {0.3, 0.1, 0.2, 0.25});
  EXPECT_TRUE(down->dipped);
  EXPECT_FALSE(down->recovery_step.has_value());
  EXPECT_NEAR(down->final_gain, -0.05, 1e-12);
  EXPECT_FALSE(SummarizeSweep({0}, {0.1}).ok());
  EXPECT_FALSE(SummarizeSweep({0, 0}, {0.1, 0.2}).ok());
  EXPECT_FALSE(SummarizeSweep({0, 1}, {0.1}).ok());
}

}  // namespace
}  // namespace kiln::eval
