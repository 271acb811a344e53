// Exact rationals, the answer parser and TinyZero's Countdown reward, edge case by edge case.
#include "tasks/arith.h"

#include <gtest/gtest.h>

#include "tasks/countdown.h"

namespace kiln::tasks {
namespace {

TEST(Rational, ReducesAndOrdersExactly) {
  auto r = MakeRational(6, -4);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->num, -3);
  EXPECT_EQ(r->den, 2);
  EXPECT_FALSE(Div({1, 1}, {0, 1}));
  EXPECT_FALSE(Mul({INT64_MAX, 1}, {2, 1}));  // overflow is reported, never wrapped
  EXPECT_TRUE(Rational({1, 3}) < Rational({1, 2}));
  EXPECT_EQ(FormatOperand({7, 3}), "(7/3)");
  EXPECT_EQ(FormatOperand({-5, 1}), "(-5)");
  EXPECT_EQ(FormatRational({-5, 1}), "-5");
}

TEST(EvaluateExpression, PrecedenceParenthesesAndUnaryMinus) {
  auto r = EvaluateExpression(" (1 + 2) / 3 ");
  EXPECT_EQ(r.error, EvalError::kNone);
  EXPECT_EQ(r.value, Rational({1, 1}));
  EXPECT_EQ(EvaluateExpression("2+3*4").value, Rational({14, 1}));
  EXPECT_EQ(EvaluateExpression("8/3/2").value, Rational({4, 3}));  // left associative
  EXPECT_EQ(EvaluateExpression("-(5-8)").value, Rational({3, 1}));
  EXPECT_EQ(EvaluateExpression("1+").error, EvalError::kSyntax);
  EXPECT_EQ(EvaluateExpression("(1+2").error, EvalError::kSyntax);
  EXPECT_EQ(EvaluateExpression("1 2").error, EvalError::kSyntax);
  EXPECT_EQ(EvaluateExpression("").error, EvalError::kSyntax);
  EXPECT_EQ(EvaluateExpression("4/(2-2)").error, EvalError::kDivByZero);
  EXPECT_EQ(EvaluateExpression("2**3").error, EvalError::kSyntax);
  EXPECT_EQ(EvaluateExpression("1.5+2").error, EvalError::kIllegalChar);
  EXPECT_EQ(EvaluateExpression("x+1").error, EvalError::kIllegalChar);
  EXPECT_EQ(EvaluateExpression("99999999999999999999").error, EvalError::kOverflow);
  // Hostile nesting ends in an error, not a stack overflow.
  EXPECT_EQ(EvaluateExpression(std::string(100000, '(') + "1").error, EvalError::kSyntax);
  EXPECT_EQ(EvaluateExpression(std::string(100000, '-') + "1").error, EvalError::kSyntax);
}

TEST(CheckStepArithmetic, FindsSlipsAndIgnoresProse) {
  EXPECT_TRUE(CheckStepArithmetic("Try 55+36=91, left 19, 91: 91-19=72. No."));
  EXPECT_FALSE(CheckStepArithmetic("Try 55+36=92, left 19."));
  EXPECT_TRUE(CheckStepArithmetic("7/3 is (7/3); (7/3)*3=7 and 2-5=(-3) and 56/(-14)=(-4)"));
  EXPECT_FALSE(CheckStepArithmetic("56/(-14)=4"));
  EXPECT_TRUE(CheckStepArithmetic("chains like 1+2+3=6 and x+1=2 are not steps"));
  EXPECT_TRUE(CheckStepArithmetic("(55 + 19) - 9 = 65"));
}

// ---- Countdown reward edge cases (TinyZero's compute_score) ------------------------------

const std::vector<int64_t> kNums = {19, 36, 55, 7};
constexpr int64_t kTarget = 65;  // 55 + 36 - 19 - 7

double R(const std::string& response) { return ScoreEquation(response, kNums, kTarget).reward; }

TEST(CountdownReward, Correct) {
  EXPECT_EQ(R("<answer> 55 + 36 - 19 - 7 </answer>"), 1.0);
  EXPECT_TRUE(ScoreEquation("<answer>55+36-19-7</answer>", kNums, kTarget).correct);
}
TEST(CountdownReward, NoTagIsZero) {
  Score s = ScoreEquation("55 + 36 - 19 - 7", kNums, kTarget);
  EXPECT_EQ(s.reward, 0.0);
  EXPECT_FALSE(s.formatted);
  EXPECT_EQ(R("<answer> 55 + 36 - 19 - 7"), 0.0);  // unclosed
}
TEST(CountdownReward, LastOfTwoTagsCounts) {
  EXPECT_EQ(R("<answer> 1 + 2 </answer> then <answer> 55 + 36 - 19 - 7 </answer>"), 1.0);
  EXPECT_EQ(R("<answer> 55 + 36 - 19 - 7 </answer> then <answer> 55 + 36 </answer>"), 0.1);
}
TEST(CountdownReward, TextBeforeLastThinkIsDropped) {
  EXPECT_EQ(R("<think><answer> 55 + 36 - 19 - 7 </answer></think> no answer"), 0.0);
  EXPECT_EQ(R("<think>a</think><think>b</think><answer> 55 + 36 - 19 - 7 </answer>"), 1.0);
}
TEST(CountdownReward, NumberUsedTwice) {
  EXPECT_EQ(R("<answer> 55 + 36 - 19 - 7 + 7 - 7 </answer>"), 0.1);
}
TEST(CountdownReward, MissingNumber) {
  EXPECT_EQ(R("<answer> 55 + 36 - 19 - 7 * 1 </answer>"), 0.1);
}
TEST(CountdownReward, MissingOneOfTheNumbers) {
  EXPECT_EQ(R("<answer> 55 + 36 - 19 </answer>"), 0.1);
}
TEST(CountdownReward, IllegalCharacters) {
  EXPECT_EQ(R("<answer> 55 + 36 - 19 - 7 = 65 </answer>"), 0.1);
  EXPECT_EQ(R("<answer> 55 + 36 - 19 - 7.0 </answer>"), 0.1);
  EXPECT_EQ(R("<answer> 55 x 36 - 19 - 7 </answer>"), 0.1);
  EXPECT_EQ(R("<answer> __import__('os') </answer>"), 0.1);
}
TEST(CountdownReward, DivisionByZero) {
  EXPECT_EQ(ScoreEquation("<answer> 3 / (4 - 4) </answer>", {3, 4, 4}, 1).reward, 0.1);
}
TEST(CountdownReward, NonIntegerIntermediatesAreExact) {
  // 8 / (3 - 8/3) = 24: the intermediate 1/3 is exact, floating point would give 23.99999...
  EXPECT_EQ(ScoreEquation("<answer> 8 / (3 - 8 / 3) </answer>", {8, 3, 8, 3}, 24).reward, 1.0);
  EXPECT_EQ(ScoreEquation("<answer> (1 / 3) * 3 * 5 </answer>", {1, 3, 3, 5}, 5).reward, 1.0);
  EXPECT_EQ(ScoreEquation("<answer> 7 / 2 </answer>", {7, 2}, 3).reward, 0.1);  // 3.5 misses
}
TEST(CountdownReward, Whitespace) {
  EXPECT_EQ(R("<answer>\n\t55+36 -19-  7\n</answer>"), 1.0);
  EXPECT_EQ(R("<answer></answer>"), 0.1);
  EXPECT_EQ(R("<answer>   </answer>"), 0.1);
}
TEST(CountdownReward, WrongValue) { EXPECT_EQ(R("<answer> 55 + 36 + 19 - 7 </answer>"), 0.1); }
TEST(CountdownReward, LeadingZerosAndUnaryMinus) {
  EXPECT_EQ(R("<answer> 055 + 36 - 19 - 7 </answer>"), 1.0);  // int("055") == 55, as TinyZero
  EXPECT_EQ(R("<answer> -(19 + 7 - 55 - 36) </answer>"), 1.0);
}

}  // namespace
}  // namespace kiln::tasks
