// Exact arithmetic for the number puzzles (Countdown, GeneralPoints): rationals with overflow
// checks, our own expression parser (never a general-purpose eval: an answer is untrusted text),
// the reachable-value search and the readable search-trace writer shared by both puzzles.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kiln::tasks {

// p/q in lowest terms, q > 0. Every operation reports overflow instead of wrapping.
struct Rational {
  int64_t num = 0;
  int64_t den = 1;
  bool is_integer() const { return den == 1; }
  friend bool operator==(const Rational&, const Rational&) = default;
  friend bool operator<(const Rational& a, const Rational& b) {
    return static_cast<__int128>(a.num) * b.den < static_cast<__int128>(b.num) * a.den;
  }
};

std::optional<Rational> MakeRational(__int128 num, __int128 den);
std::optional<Rational> Add(Rational a, Rational b);
std::optional<Rational> Sub(Rational a, Rational b);
std::optional<Rational> Mul(Rational a, Rational b);
std::optional<Rational> Div(Rational a, Rational b);  // nullopt on division by zero too
// Applies op ('+', '-', '*', '/').
std::optional<Rational> Apply(char op, Rational a, Rational b);

// "7", and in traces "(7/3)" / "(-5)" so that a step "a+b=c" stays unambiguous to a reader and to
// CheckStepArithmetic.
std::string FormatOperand(Rational r);
// Plain "7/3" or "-5" (answers, canonical forms).
std::string FormatRational(Rational r);
// True when |r - target| < 1e-5, decided exactly (TinyZero's tolerance, without floating point).
bool WithinTolerance(Rational r, int64_t target);

enum class EvalError { kNone, kIllegalChar, kSyntax, kDivByZero, kOverflow };

struct EvalResult {
  EvalError error = EvalError::kNone;
  Rational value;
  std::vector<int64_t> numbers;  // the integer literals, in order of appearance
};

// Evaluates digits, + - * /, parentheses, unary minus and whitespace, exactly. Anything else is
// kIllegalChar (so '.', 'x', '=' and letters are rejected, as TinyZero's character check does).
EvalResult EvaluateExpression(const std::string& text);

// Only the literals, without evaluating: TinyZero checks the numbers before evaluating.
// Returns nullopt on an illegal character or a literal too long to be one of the puzzle's numbers.
std::optional<std::vector<int64_t>> ExpressionNumbers(const std::string& text);

// Scans text for steps written "a+b=c" (operands: integers or parenthesized rationals) and returns
// false if any is wrong. Used to verify traces, and to tell slipped traces from good ones.
bool CheckStepArithmetic(const std::string& text);

// All values reachable by combining every one of `numbers` exactly once with + - * /, sorted.
std::vector<Rational> ReachableValues(const std::vector<int64_t>& numbers);

// The knobs of the search trace: how many failed branches it shows and how many tries each shows.
struct SearchTraceOptions {
  int dead_ends = 3;
  int tries_per_dead_end = 2;
};

struct SearchTrace {
  bool solved = false;
  std::string steps;     // the search, one line per branch (no header, no tags)
  std::string equation;  // e.g. "(55 + 19) - 9"
};

// Writes a search for `target` from `numbers` (each used once): first-level tries that fail
// (dead ends, each showing a few of its attempts, then backtracking), then the branch that works.
// `choice_seed` picks which dead ends are shown, so the trace is a pure function of its inputs.
SearchTrace WriteSearchTrace(const std::vector<int64_t>& numbers, int64_t target,
                             uint64_t choice_seed, const SearchTraceOptions& options);

}  // namespace kiln::tasks
