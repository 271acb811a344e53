// Countdown and GeneralPoints over thousands of seeds: every instance is solvable according to an
// independent brute-force solver (subset DP over its own fraction type, not tasks/arith), and every
// trace the solver writes verifies.
#include "tasks/countdown.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>

#include "base/check.h"
#include "tasks/arith.h"

namespace kiln::tasks {
namespace {

// A deliberately separate fraction: long double-free, long long with std::gcd.
struct Frac {
  long long n, d;
  bool operator<(const Frac& o) const { return (__int128)n * o.d < (__int128)o.n * d; }
};
Frac Norm(long long n, long long d) {
  if (d < 0) n = -n, d = -d;
  long long g = std::gcd(n < 0 ? -n : n, d);
  return {n / g, d / g};
}

// Values reachable from each subset of nums (bitmask DP), every number of the subset used once.
bool BruteForceReaches(const std::vector<int64_t>& nums, long long target) {
  int n = static_cast<int>(nums.size());
  std::vector<std::set<Frac>> reach(1 << n);
  for (int i = 0; i < n; ++i) reach[1 << i].insert({nums[i], 1});
  for (int mask = 1; mask < (1 << n); ++mask) {
    for (int sub = (mask - 1) & mask; sub > 0; sub = (sub - 1) & mask) {
      int other = mask ^ sub;
      if (sub < other) continue;  // each split once; both operand orders below
      for (const Frac& a : reach[sub]) {
        for (const Frac& b : reach[other]) {
          reach[mask].insert(Norm(a.n * b.d + b.n * a.d, a.d * b.d));
          reach[mask].insert(Norm(a.n * b.d - b.n * a.d, a.d * b.d));
          reach[mask].insert(Norm(b.n * a.d - a.n * b.d, a.d * b.d));
          reach[mask].insert(Norm(a.n * b.n, a.d * b.d));
          if (b.n != 0) reach[mask].insert(Norm(a.n * b.d, a.d * b.n));
          if (a.n != 0) reach[mask].insert(Norm(b.n * a.d, b.d * a.n));
        }
      }
    }
  }
  return reach[(1 << n) - 1].count({target, 1}) > 0;
}

TEST(Countdown, EveryInstanceSolvableAndEveryTraceVerifies) {
  auto task = *MakeTask("countdown");
  for (int difficulty : {3, 4}) {
    int seeds = difficulty == 3 ? 2000 : 600;
    for (int s = 0; s < seeds; ++s) {
      Instance inst = task->Generate(s, difficulty);
      auto nums = inst.spec.at("numbers").get<std::vector<int64_t>>();
      int64_t target = inst.spec.at("target").get<int64_t>();
      ASSERT_EQ(static_cast<int>(nums.size()), difficulty);
      for (int64_t x : nums) ASSERT_TRUE(x >= 1 && x <= 100);
      ASSERT_TRUE(BruteForceReaches(nums, target)) << "seed " << s;
      std::string cot = task->SolveCot(inst);  // throws if it does not verify
      Score sc = task->ScoreResponse(inst, cot);
      ASSERT_EQ(sc.reward, 1.0) << cot;
      ASSERT_TRUE(CheckStepArithmetic(cot));
      ASSERT_EQ(task->ScoreResponse(inst, task->ShortSolution(inst)).reward, 1.0);
      ASSERT_NE(task->Prompt(inst).find("create an equation that equals"), std::string::npos);
    }
  }
}

TEST(Countdown, InstancesArePureFunctionsOfTheSeed) {
  auto task = *MakeTask("countdown");
  for (int s = 0; s < 50; ++s) {
    EXPECT_EQ(task->Generate(s, 4).spec, task->Generate(s, 4).spec);
    EXPECT_EQ(task->SolveCot(task->Generate(s, 4)), task->SolveCot(task->Generate(s, 4)));
  }
  EXPECT_NE(task->Generate(1, 3).spec, task->Generate(2, 3).spec);
}

TEST(Countdown, PromptIsTinyZeros) {
  EXPECT_EQ(CountdownPrompt({19, 36, 55, 7}, 65),
            "Using the numbers [19, 36, 55, 7], create an equation that equals 65. You can use "
            "basic arithmetic operations (+, -, *, /) and each number can only be used once. Show "
            "your work in <think> </think> tags. And return the final answer in <answer> </answer> "
            "tags, for example <answer> (1 + 2) / 3 </answer>.");
}

TEST(Countdown, TraceLengthIsControllable) {
  auto task = *MakeTask("countdown");
  size_t total0 = 0, total6 = 0;
  for (int s = 0; s < 100; ++s) {
    Instance inst = task->Generate(s, 4);
    std::string t0 = task->SolveCot(inst, {0, 0}), t6 = task->SolveCot(inst, {6, 2});
    EXPECT_EQ(t0.find("No.\n"), std::string::npos) << t0;  // no dead ends shown
    total0 += t0.size();
    total6 += t6.size();
  }
  EXPECT_GT(total6, 3 * total0);
}

TEST(Countdown, CanonicalMergesEquivalentAnswers) {
  auto task = *MakeTask("countdown");
  Instance inst{"countdown", 3, 0, Json{{"numbers", {1, 2, 3}}, {"target", 6}}};
  EXPECT_EQ(task->Canonical(inst, "1 + 2 + 3"), task->Canonical(inst, "(3*2)*1"));
  EXPECT_NE(task->Canonical(inst, "1 + 2 + 3"), task->Canonical(inst, "1 + 2 * 3"));
  EXPECT_EQ(task->Canonical(inst, "1 + 2"), "1+2");
}

TEST(Countdown, ImpossibleDifficultyIsAnError) {
  auto task = *MakeTask("countdown");
  EXPECT_THROW(task->Generate(0, 5), Error);
  auto s = CheckDifficulty(*task, 7);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(std::string(s.message()).find("difficulty 7 is out of range [3, 4]"),
            std::string::npos);
}

TEST(GeneralPoints, BothRulesSolvableAndVerified) {
  for (const char* name : {"general_points", "general_points_ood"}) {
    auto task = *MakeTask(name);
    bool ood = std::string(name) == "general_points_ood";
    for (int difficulty : {1, 2}) {
      for (int s = 0; s < 300; ++s) {
        Instance inst = task->Generate(s, difficulty);
        auto cards = inst.spec.at("cards").get<std::vector<std::string>>();
        auto values = inst.spec.at("values").get<std::vector<int64_t>>();
        ASSERT_EQ(cards.size(), 4u);
        bool face = false;
        for (size_t k = 0; k < 4; ++k) {
          const std::string& c = cards[k];
          int want = c == "A"   ? 1
                     : c == "J" ? (ood ? 11 : 10)
                     : c == "Q" ? (ood ? 12 : 10)
                     : c == "K" ? (ood ? 13 : 10)
                                : std::stoi(c);
          face |= c == "J" || c == "Q" || c == "K";
          ASSERT_EQ(values[k], want) << c;
        }
        if (difficulty == 2) {
          ASSERT_TRUE(face);
        }
        ASSERT_TRUE(BruteForceReaches(values, 24)) << name << " seed " << s;
        ASSERT_EQ(task->ScoreResponse(inst, task->SolveCot(inst)).reward, 1.0);
      }
    }
  }
}

TEST(GeneralPoints, RulesDisagreeOnFaceCards) {
  auto ten = *MakeTask("general_points");
  auto ood = *MakeTask("general_points_ood");
  Instance a{"general_points", 2, 0,
             Json{{"cards", {"J", "2", "2", "1"}}, {"values", {10, 2, 2, 1}}}};
  Instance b{"general_points_ood", 2, 0,
             Json{{"cards", {"J", "2", "2", "1"}}, {"values", {11, 2, 2, 1}}}};
  EXPECT_EQ(ten->ScoreResponse(a, "<answer> (10 + 2) * 2 * 1 </answer>").reward, 1.0);
  EXPECT_EQ(ood->ScoreResponse(b, "<answer> (10 + 2) * 2 * 1 </answer>").reward, 0.1);
  EXPECT_NE(ten->Prompt(a), ood->Prompt(b));
}

}  // namespace
}  // namespace kiln::tasks
