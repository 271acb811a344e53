// Countdown and GeneralPoints: generators, the search-trace writers and TinyZero's reward.
#include "tasks/countdown.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/rng.h"
#include "tasks/arith.h"

namespace kiln::tasks {
namespace {

constexpr double kFormatReward = 0.1;

std::string JoinNumbers(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) absl::StrAppend(&s, i ? ", " : "", v[i]);
  return s;
}

std::vector<int64_t> Numbers(const Json& spec, const char* field) {
  return spec.at(field).get<std::vector<int64_t>>();
}

// Which dead ends a trace shows is drawn from the instance seed, apart from its generation draws.
uint64_t ChoiceSeed(uint64_t seed) { return seed ^ 0x7ace5eed0ddba11ull; }

int Pick(int requested, int fallback) { return requested >= 0 ? requested : fallback; }

std::string EquationCot(const std::string& header, const std::vector<int64_t>& numbers,
                        int64_t target, uint64_t seed, const TraceOptions& o, int dead_ends) {
  SearchTraceOptions so;
  so.dead_ends = Pick(o.dead_ends, dead_ends);
  so.tries_per_dead_end = Pick(o.tries_per_dead_end, 1);
  SearchTrace t = WriteSearchTrace(numbers, target, ChoiceSeed(seed), so);
  KILN_CHECK(t.solved) << "internal error: no solution for target " << target << " from "
                       << JoinNumbers(numbers);
  return ThinkThen(absl::StrCat(header, t.steps, "So ", t.equation, " = ", target, ".\n"),
                   AnswerTag(t.equation));
}

std::string EquationShort(const std::vector<int64_t>& numbers, int64_t target, uint64_t seed) {
  SearchTrace t = WriteSearchTrace(numbers, target, ChoiceSeed(seed), {0, 0});
  KILN_CHECK(t.solved) << "internal error: unsolvable instance";
  return AnswerTag(t.equation);
}

// Equivalent equations are one answer when they use the numbers correctly and have one value.
std::string EquationCanonical(const std::string& answer, const std::vector<int64_t>& numbers) {
  auto used = ExpressionNumbers(answer);
  std::vector<int64_t> want = numbers;
  std::sort(want.begin(), want.end());
  if (used) std::sort(used->begin(), used->end());
  EvalResult r = EvaluateExpression(answer);
  if (used && *used == want && r.error == EvalError::kNone) return "=" + FormatRational(r.value);
  std::string s;
  for (char c : answer) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') s += c;
  }
  return s;
}

class Countdown : public Task {
 public:
  std::string name() const override { return "countdown"; }
  int min_difficulty() const override { return 3; }
  int max_difficulty() const override { return 4; }
  std::string difficulty_help() const override { return "difficulty = how many numbers, 3 or 4"; }
  bool sft_allowed() const override { return true; }

  std::string Prompt(const Instance& inst) const override {
    return CountdownPrompt(Numbers(inst.spec, "numbers"), inst.spec.at("target").get<int64_t>());
  }
  std::string Canonical(const Instance& inst, const std::string& answer) const override {
    return EquationCanonical(answer, Numbers(inst.spec, "numbers"));
  }
  Score ScoreResponse(const Instance& inst, const std::string& response) const override {
    return ScoreEquation(response, Numbers(inst.spec, "numbers"),
                         inst.spec.at("target").get<int64_t>());
  }

 protected:
  Json MakeSpec(uint64_t seed, int difficulty) const override {
    RngStream rng(seed);
    for (int attempt = 0; attempt < 1000; ++attempt) {
      std::vector<int64_t> nums;
      for (int k = 0; k < difficulty; ++k)
        nums.push_back(1 + static_cast<int64_t>(rng.UniformInt(100)));
      std::vector<int64_t> targets;
      for (const Rational& r : ReachableValues(nums)) {
        if (r.is_integer() && r.num >= 10 && r.num <= 100) targets.push_back(r.num);
      }
      if (targets.empty()) continue;
      int64_t target = targets[rng.UniformInt(targets.size())];
      return Json{{"numbers", nums}, {"target", target}};
    }
    KILN_CHECK(false) << "internal error: countdown found no reachable target";
    return {};
  }
  std::string WriteCot(const Instance& inst, const TraceOptions& o) const override {
    auto nums = Numbers(inst.spec, "numbers");
    int64_t target = inst.spec.at("target").get<int64_t>();
    std::string header = absl::StrCat("Goal: ", target, " from ", JoinNumbers(nums), ".\n");
    return EquationCot(header, nums, target, inst.seed, o, nums.size() == 3 ? 3 : 4);
  }
  std::string WriteShort(const Instance& inst) const override {
    return EquationShort(Numbers(inst.spec, "numbers"), inst.spec.at("target").get<int64_t>(),
                         inst.seed);
  }
};

constexpr const char* kRanks[] = {"A", "2", "3", "4", "5", "6", "7", "8", "9", "10", "J", "Q", "K"};

class GeneralPoints : public Task {
 public:
  explicit GeneralPoints(bool face_as_ten) : face_as_ten_(face_as_ten) {}
  std::string name() const override {
    return face_as_ten_ ? "general_points" : "general_points_ood";
  }
  int min_difficulty() const override { return 1; }
  int max_difficulty() const override { return 2; }
  std::string difficulty_help() const override {
    return "1 = any 4 cards, 2 = at least one J, Q or K (where the rules differ)";
  }
  bool sft_allowed() const override { return false; }

  std::string Prompt(const Instance& inst) const override {
    std::string cards;
    for (const auto& c : inst.spec.at("cards")) {
      absl::StrAppend(&cards, cards.empty() ? "" : ", ", c.get<std::string>());
    }
    return absl::StrCat(
        "You are given four playing cards: ", cards, ". Ace counts as 1, ",
        face_as_ten_ ? "and J, Q and K each count as 10" : "and J, Q and K count as 11, 12 and 13",
        ". Using each card's value exactly once, create an equation that equals 24. You can use "
        "basic arithmetic operations (+, -, *, /) and parentheses. Show your work in <think> "
        "</think> tags. And return the final answer in <answer> </answer> tags, for example "
        "<answer> (1 + 2) / 3 </answer>.");
  }
  std::string Canonical(const Instance& inst, const std::string& answer) const override {
    return EquationCanonical(answer, Numbers(inst.spec, "values"));
  }
  Score ScoreResponse(const Instance& inst, const std::string& response) const override {
    return ScoreEquation(response, Numbers(inst.spec, "values"), 24);
  }

 protected:
  Json MakeSpec(uint64_t seed, int difficulty) const override {
    RngStream rng(seed);
    for (int attempt = 0; attempt < 1000; ++attempt) {
      std::vector<int> ranks;
      for (int k = 0; k < 4; ++k) ranks.push_back(1 + static_cast<int>(rng.UniformInt(13)));
      if (difficulty == 2 &&
          std::none_of(ranks.begin(), ranks.end(), [](int r) { return r > 10; })) {
        continue;
      }
      std::vector<int64_t> values;
      std::vector<std::string> cards;
      for (int r : ranks) {
        values.push_back(r > 10 && face_as_ten_ ? 10 : r);
        cards.push_back(kRanks[r - 1]);
      }
      auto reach = ReachableValues(values);
      if (!std::binary_search(reach.begin(), reach.end(), Rational{24, 1})) continue;
      return Json{
          {"cards", cards}, {"values", values}, {"rule", face_as_ten_ ? "jqk10" : "jqk111213"}};
    }
    KILN_CHECK(false) << "internal error: general points found no solvable hand";
    return {};
  }
  std::string WriteCot(const Instance& inst, const TraceOptions& o) const override {
    auto values = Numbers(inst.spec, "values");
    std::string cards;
    for (const auto& c : inst.spec.at("cards")) {
      absl::StrAppend(&cards, cards.empty() ? "" : ", ", c.get<std::string>());
    }
    std::string header =
        absl::StrCat("Cards ", cards, " are ", JoinNumbers(values), ". Goal: 24.\n");
    return EquationCot(header, values, 24, inst.seed, o, 4);
  }
  std::string WriteShort(const Instance& inst) const override {
    return EquationShort(Numbers(inst.spec, "values"), 24, inst.seed);
  }

 private:
  bool face_as_ten_;
};

}  // namespace

std::unique_ptr<Task> MakeCountdown() { return std::make_unique<Countdown>(); }
std::unique_ptr<Task> MakeGeneralPoints(bool face_as_ten) {
  return std::make_unique<GeneralPoints>(face_as_ten);
}

std::string CountdownPrompt(const std::vector<int64_t>& numbers, int64_t target) {
  return absl::StrCat("Using the numbers [", JoinNumbers(numbers),
                      "], create an equation that equals ", target,
                      ". You can use basic arithmetic operations (+, -, *, /) and each number can "
                      "only be used once. Show your work in <think> </think> tags. And return the "
                      "final answer in <answer> </answer> tags, for example <answer> (1 + 2) / 3 "
                      "</answer>.");
}

Score ScoreEquation(const std::string& response, const std::vector<int64_t>& numbers,
                    int64_t target) {
  Score s;
  auto answer = LastAnswerTag(AfterLastThink(response));
  if (!answer) return s;
  s.formatted = true;
  s.reward = kFormatReward;
  auto used = ExpressionNumbers(*answer);
  if (!used) return s;  // illegal characters
  std::vector<int64_t> want = numbers;
  std::sort(want.begin(), want.end());
  std::sort(used->begin(), used->end());
  if (*used != want) return s;
  EvalResult r = EvaluateExpression(*answer);
  if (r.error != EvalError::kNone) return s;
  if (WithinTolerance(r.value, target)) {
    s.reward = 1.0;
    s.correct = true;
  }
  return s;
}

}  // namespace kiln::tasks
