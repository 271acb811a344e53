// Exact rationals, the answer-expression parser and the puzzle search (see arith.h). The parser is
// recursive descent with a depth limit, so hostile answers cannot overflow the stack.
#include "tasks/arith.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/rng.h"

namespace kiln::tasks {
namespace {

constexpr __int128 kI64Max = INT64_MAX;

__int128 Gcd(__int128 a, __int128 b) {
  if (a < 0) a = -a;
  if (b < 0) b = -b;
  while (b != 0) {
    __int128 t = a % b;
    a = b;
    b = t;
  }
  return a;
}

}  // namespace

std::optional<Rational> MakeRational(__int128 num, __int128 den) {
  if (den == 0) return std::nullopt;
  if (den < 0) {
    num = -num;
    den = -den;
  }
  __int128 g = Gcd(num, den);
  if (g > 1) {
    num /= g;
    den /= g;
  }
  if (num > kI64Max || num < -kI64Max || den > kI64Max) return std::nullopt;
  return Rational{static_cast<int64_t>(num), static_cast<int64_t>(den)};
}

std::optional<Rational> Add(Rational a, Rational b) {
  return MakeRational(static_cast<__int128>(a.num) * b.den + static_cast<__int128>(b.num) * a.den,
                      static_cast<__int128>(a.den) * b.den);
}
std::optional<Rational> Sub(Rational a, Rational b) {
  return MakeRational(static_cast<__int128>(a.num) * b.den - static_cast<__int128>(b.num) * a.den,
                      static_cast<__int128>(a.den) * b.den);
}
std::optional<Rational> Mul(Rational a, Rational b) {
  return MakeRational(static_cast<__int128>(a.num) * b.num, static_cast<__int128>(a.den) * b.den);
}
std::optional<Rational> Div(Rational a, Rational b) {
  if (b.num == 0) return std::nullopt;
  return MakeRational(static_cast<__int128>(a.num) * b.den, static_cast<__int128>(a.den) * b.num);
}
std::optional<Rational> Apply(char op, Rational a, Rational b) {
  switch (op) {
    case '+':
      return Add(a, b);
    case '-':
      return Sub(a, b);
    case '*':
      return Mul(a, b);
    case '/':
      return Div(a, b);
  }
  KILN_CHECK(false) << "Apply: unknown operator '" << op << "'";
  return std::nullopt;
}

std::string FormatRational(Rational r) {
  if (r.den == 1) return absl::StrCat(r.num);
  return absl::StrCat(r.num, "/", r.den);
}

std::string FormatOperand(Rational r) {
  if (r.den == 1 && r.num >= 0) return absl::StrCat(r.num);
  return absl::StrCat("(", FormatRational(r), ")");
}

bool WithinTolerance(Rational r, int64_t target) {
  __int128 diff = static_cast<__int128>(r.num) - static_cast<__int128>(target) * r.den;
  if (diff < 0) diff = -diff;
  return diff * 100000 < r.den;
}

// ---- Expression parser ---------------------------------------------------------------------

namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsOp(char c) { return c == '+' || c == '-' || c == '*' || c == '/'; }
bool IsAllowed(char c) { return IsDigit(c) || IsOp(c) || c == '(' || c == ')' || IsSpace(c); }

class Parser {
 public:
  explicit Parser(const std::string& s) : s_(s) {}

  EvalResult Run() {
    EvalResult r;
    for (char c : s_) {
      if (!IsAllowed(c)) {
        r.error = EvalError::kIllegalChar;
        return r;
      }
    }
    auto v = Expr(0);
    SkipSpace();
    if (error_ == EvalError::kNone && (!v || pos_ != s_.size())) error_ = EvalError::kSyntax;
    r.error = error_;
    r.numbers = std::move(numbers_);
    if (error_ == EvalError::kNone) r.value = *v;
    return r;
  }

 private:
  static constexpr int kMaxDepth = 100;

  void SkipSpace() {
    while (pos_ < s_.size() && IsSpace(s_[pos_])) ++pos_;
  }
  bool Fail(EvalError e) {
    if (error_ == EvalError::kNone) error_ = e;
    return false;
  }
  std::optional<Rational> Combine(char op, Rational a, Rational b) {
    if (op == '/' && b.num == 0) {
      Fail(EvalError::kDivByZero);
      return std::nullopt;
    }
    auto r = Apply(op, a, b);
    if (!r) Fail(EvalError::kOverflow);
    return r;
  }
  std::optional<Rational> Expr(int depth) {
    auto a = Term(depth);
    while (a) {
      SkipSpace();
      if (pos_ >= s_.size() || (s_[pos_] != '+' && s_[pos_] != '-')) break;
      char op = s_[pos_++];
      auto b = Term(depth);
      if (!b) return std::nullopt;
      a = Combine(op, *a, *b);
    }
    return a;
  }
  std::optional<Rational> Term(int depth) {
    auto a = Factor(depth);
    while (a) {
      SkipSpace();
      if (pos_ >= s_.size() || (s_[pos_] != '*' && s_[pos_] != '/')) break;
      char op = s_[pos_++];
      auto b = Factor(depth);
      if (!b) return std::nullopt;
      a = Combine(op, *a, *b);
    }
    return a;
  }
  std::optional<Rational> Factor(int depth) {
    if (depth > kMaxDepth) {
      Fail(EvalError::kSyntax);
      return std::nullopt;
    }
    SkipSpace();
    if (pos_ >= s_.size()) {
      Fail(EvalError::kSyntax);
      return std::nullopt;
    }
    char c = s_[pos_];
    if (c == '-' || c == '+') {
      ++pos_;
      auto v = Factor(depth + 1);
      if (!v || c == '+') return v;
      return Rational{-v->num, v->den};
    }
    if (c == '(') {
      ++pos_;
      auto v = Expr(depth + 1);
      SkipSpace();
      if (!v) return std::nullopt;
      if (pos_ >= s_.size() || s_[pos_] != ')') {
        Fail(EvalError::kSyntax);
        return std::nullopt;
      }
      ++pos_;
      return v;
    }
    if (!IsDigit(c)) {
      Fail(EvalError::kSyntax);
      return std::nullopt;
    }
    __int128 n = 0;
    while (pos_ < s_.size() && IsDigit(s_[pos_])) {
      n = n * 10 + (s_[pos_++] - '0');
      if (n > static_cast<__int128>(1000000000000000LL)) {
        Fail(EvalError::kOverflow);
        return std::nullopt;
      }
    }
    numbers_.push_back(static_cast<int64_t>(n));
    return Rational{static_cast<int64_t>(n), 1};
  }

  const std::string& s_;
  size_t pos_ = 0;
  EvalError error_ = EvalError::kNone;
  std::vector<int64_t> numbers_;
};

}  // namespace

EvalResult EvaluateExpression(const std::string& text) { return Parser(text).Run(); }

std::optional<std::vector<int64_t>> ExpressionNumbers(const std::string& text) {
  std::vector<int64_t> out;
  for (size_t i = 0; i < text.size();) {
    if (!IsAllowed(text[i])) return std::nullopt;
    if (!IsDigit(text[i])) {
      ++i;
      continue;
    }
    int64_t n = 0;
    size_t len = 0;
    for (; i < text.size() && IsDigit(text[i]); ++i, ++len) {
      if (len >= 15) return std::nullopt;
      n = n * 10 + (text[i] - '0');
    }
    out.push_back(n);
  }
  return out;
}

// ---- Step checker --------------------------------------------------------------------------

namespace {

// Parses an operand at s[i]: digits, or "(" ["-"] digits ["/" digits] ")".
std::optional<Rational> ParseOperand(const std::string& s, size_t& i) {
  auto digits = [&](int64_t& out) {
    size_t start = i;
    out = 0;
    while (i < s.size() && IsDigit(s[i]) && i - start < 15) out = out * 10 + (s[i++] - '0');
    return i > start && (i >= s.size() || !IsDigit(s[i]));
  };
  int64_t a = 0, b = 1;
  if (i < s.size() && IsDigit(s[i])) {
    if (!digits(a)) return std::nullopt;
    return Rational{a, 1};
  }
  if (i >= s.size() || s[i] != '(') return std::nullopt;
  ++i;
  bool neg = i < s.size() && s[i] == '-';
  if (neg) ++i;
  if (!digits(a)) return std::nullopt;
  if (i < s.size() && s[i] == '/') {
    ++i;
    if (!digits(b) || b == 0) return std::nullopt;
  }
  if (i >= s.size() || s[i] != ')') return std::nullopt;
  ++i;
  return MakeRational(neg ? -a : a, b);
}

}  // namespace

bool CheckStepArithmetic(const std::string& text) {
  for (size_t start = 0; start < text.size(); ++start) {
    char c = text[start];
    if (!IsDigit(c) && c != '(') continue;
    if (start > 0) {
      char p = text[start - 1];
      if (IsDigit(p) || IsOp(p) || p == ')' || p == '(' || p == '=') continue;
    }
    size_t i = start;
    auto a = ParseOperand(text, i);
    if (!a || i >= text.size() || !IsOp(text[i])) continue;
    char op = text[i++];
    auto b = ParseOperand(text, i);
    if (!b || i >= text.size() || text[i] != '=') continue;
    ++i;
    bool neg = i < text.size() && text[i] == '-';
    if (neg) ++i;
    auto c_val = ParseOperand(text, i);
    if (!c_val) continue;
    if (neg) c_val->num = -c_val->num;
    auto expect = Apply(op, *a, *b);
    if (!expect || !(*expect == *c_val)) return false;
  }
  return true;
}

// ---- Search ----------------------------------------------------------------------------------

namespace {

struct Item {
  Rational v;
  std::string expr;
  bool leaf = true;
};

struct Move {
  size_t i, j;  // operands in display order: items[i] op items[j]
  char op;
  Rational result;
};

std::string Wrap(const Item& it) { return it.leaf ? it.expr : absl::StrCat("(", it.expr, ")"); }

// Moves on `items`. "Nice" moves are what a person tries first: results stay non-negative integers,
// the larger operand comes first; the others complete the search (fractions, negatives).
std::vector<Move> Moves(const std::vector<Item>& items, bool nice) {
  std::vector<Move> out;
  auto add = [&](size_t i, size_t j, char op) {
    auto r = Apply(op, items[i].v, items[j].v);
    if (!r || (nice && (!r->is_integer() || r->num < 0))) return;
    out.push_back({i, j, op, *r});
  };
  for (size_t a = 0; a < items.size(); ++a) {
    for (size_t b = a + 1; b < items.size(); ++b) {
      size_t p = a, q = b;  // p shows first: the larger value
      if (items[a].v < items[b].v) std::swap(p, q);
      bool equal = items[a].v == items[b].v;
      add(p, q, '+');
      add(p, q, '-');
      add(p, q, '*');
      add(p, q, '/');
      if (!nice && !equal) {
        add(q, p, '-');
        add(q, p, '/');
      }
    }
  }
  return out;
}

std::vector<Item> AfterMove(const std::vector<Item>& items, const Move& m) {
  std::vector<Item> out;
  out.push_back({m.result,
                 absl::StrCat(Wrap(items[m.i]), " ", std::string(1, m.op), " ", Wrap(items[m.j])),
                 false});
  for (size_t k = 0; k < items.size(); ++k) {
    if (k != m.i && k != m.j) out.push_back(items[k]);
  }
  return out;
}

std::string StepText(const std::vector<Item>& items, const Move& m) {
  return absl::StrCat(FormatOperand(items[m.i].v), std::string(1, m.op),
                      FormatOperand(items[m.j].v), "=", FormatOperand(m.result));
}

// A full path from `items` down to one value: the step texts and the final item.
struct Path {
  std::vector<std::string> steps;
  Item last;
};

// Depth-first: the first path reaching target (when `want_target`) or all paths that do not
// (capped), using nice moves only if `nice`.
void EnumeratePaths(const std::vector<Item>& items, int64_t target, bool nice, bool want_target,
                    size_t cap, std::vector<std::string>& prefix, std::vector<Path>& out) {
  if (out.size() >= cap) return;
  if (items.size() == 1) {
    if (WithinTolerance(items[0].v, target) == want_target) out.push_back({prefix, items[0]});
    return;
  }
  for (const Move& m : Moves(items, nice)) {
    prefix.push_back(StepText(items, m));
    EnumeratePaths(AfterMove(items, m), target, nice, want_target, cap, prefix, out);
    prefix.pop_back();
    if (out.size() >= cap) return;
  }
}

// Solvability on bare values (no expression strings): the hot path of trace writing.
bool CanReach(std::vector<Rational>& vals, int64_t target, bool nice) {
  if (vals.size() == 1) return WithinTolerance(vals[0], target);
  for (size_t i = 0; i < vals.size(); ++i) {
    for (size_t j = i + 1; j < vals.size(); ++j) {
      Rational a = vals[i], b = vals[j];
      if (a < b) std::swap(a, b);
      std::vector<Rational> rest;
      for (size_t k = 0; k < vals.size(); ++k) {
        if (k != i && k != j) rest.push_back(vals[k]);
      }
      for (auto r : {Add(a, b), Sub(a, b), Mul(a, b), Div(a, b), Sub(b, a), Div(b, a)}) {
        if (!r || (nice && (!r->is_integer() || r->num < 0))) continue;
        rest.push_back(*r);
        bool ok = CanReach(rest, target, nice);
        rest.pop_back();
        if (ok) return true;
      }
    }
  }
  return false;
}

bool CanReach(const std::vector<Item>& items, int64_t target, bool nice) {
  std::vector<Rational> vals;
  for (const Item& it : items) vals.push_back(it.v);
  return CanReach(vals, target, nice);
}

std::optional<Path> FindSolution(const std::vector<Item>& items, int64_t target) {
  for (bool nice : {true, false}) {
    std::vector<std::string> prefix;
    std::vector<Path> found;
    EnumeratePaths(items, target, nice, /*want_target=*/true, 1, prefix, found);
    if (!found.empty()) return found[0];
  }
  return std::nullopt;
}

void Reach(std::vector<Rational>& vals, std::vector<Rational>& out) {
  if (vals.size() == 1) {
    out.push_back(vals[0]);
    return;
  }
  for (size_t i = 0; i < vals.size(); ++i) {
    for (size_t j = i + 1; j < vals.size(); ++j) {
      Rational a = vals[i], b = vals[j];
      std::vector<Rational> rest;
      for (size_t k = 0; k < vals.size(); ++k) {
        if (k != i && k != j) rest.push_back(vals[k]);
      }
      for (auto r : {Add(a, b), Sub(a, b), Sub(b, a), Mul(a, b), Div(a, b), Div(b, a)}) {
        if (!r) continue;
        rest.push_back(*r);
        Reach(rest, out);
        rest.pop_back();
      }
    }
  }
}

template <typename T>
void Shuffle(std::vector<T>& v, RngStream& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.UniformInt(i)]);
}

// Near misses first: they are the attempts a person would actually write down.
void SortByCloseness(std::vector<Path>& paths, int64_t target) {
  auto dist = [target](const Path& p) {
    auto d = Sub(p.last.v, Rational{target, 1});
    if (!d) return Rational{INT64_MAX, 1};
    return Rational{d->num < 0 ? -d->num : d->num, d->den};
  };
  std::stable_sort(paths.begin(), paths.end(),
                   [&](const Path& a, const Path& b) { return dist(a) < dist(b); });
}

std::string LeftText(const std::vector<Item>& items) {
  std::string s = "left ";
  for (size_t k = 0; k < items.size(); ++k) {
    if (k) s += ", ";
    s += FormatOperand(items[k].v);
  }
  return s;
}

std::string Join(const std::vector<std::string>& parts, const char* sep) {
  std::string s;
  for (size_t k = 0; k < parts.size(); ++k) s += (k ? sep : "") + parts[k];
  return s;
}

}  // namespace

std::vector<Rational> ReachableValues(const std::vector<int64_t>& numbers) {
  std::vector<Rational> vals, out;
  for (int64_t n : numbers) vals.push_back({n, 1});
  Reach(vals, out);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

SearchTrace WriteSearchTrace(const std::vector<int64_t>& numbers, int64_t target,
                             uint64_t choice_seed, const SearchTraceOptions& options) {
  KILN_CHECK(numbers.size() >= 3) << "WriteSearchTrace: needs at least 3 numbers, got "
                                  << numbers.size();
  KILN_CHECK(options.dead_ends >= 0 && options.tries_per_dead_end >= 0)
      << "WriteSearchTrace: negative dead_ends / tries_per_dead_end";
  std::vector<Item> items;
  for (int64_t n : numbers) items.push_back({{n, 1}, absl::StrCat(n), true});
  RngStream rng(choice_seed);

  // First-level branches: dead ends are nice moves whose branch cannot reach the target at all.
  std::vector<Move> dead;
  std::optional<Move> good_move;
  std::optional<Path> good_path;
  for (bool nice : {true, false}) {
    for (const Move& m : Moves(items, nice)) {
      auto rest = AfterMove(items, m);
      bool solvable = CanReach(rest, target, false);
      if (!solvable && nice) dead.push_back(m);
      // Prefer a branch that stays nice all the way down.
      if (solvable && !good_move && (!nice || CanReach(rest, target, true))) {
        good_move = m;
        good_path = FindSolution(rest, target);
      }
    }
    if (good_move) break;
  }
  SearchTrace out;
  if (!good_move) return out;

  Shuffle(dead, rng);
  if (dead.size() > static_cast<size_t>(options.dead_ends)) dead.resize(options.dead_ends);
  for (const Move& m : dead) {
    auto rest = AfterMove(items, m);
    std::vector<std::string> prefix;
    std::vector<Path> fails;
    EnumeratePaths(rest, target, true, /*want_target=*/false, 64, prefix, fails);
    Shuffle(fails, rng);
    SortByCloseness(fails, target);
    std::vector<std::string> shown;
    for (size_t k = 0; k < fails.size() && shown.size() < size_t(options.tries_per_dead_end); ++k) {
      shown.push_back(Join(fails[k].steps, ", "));
    }
    absl::StrAppend(&out.steps, "Try ", StepText(items, m), ", ", LeftText(rest), ": ",
                    shown.empty() ? "nothing works" : Join(shown, "; "), ". No.\n");
  }
  auto rest = AfterMove(items, *good_move);
  std::vector<std::string> prefix;
  std::vector<Path> fails;
  EnumeratePaths(rest, target, true, false, 64, prefix, fails);
  Shuffle(fails, rng);
  SortByCloseness(fails, target);
  std::string miss = fails.empty() || options.tries_per_dead_end == 0
                         ? ""
                         : absl::StrCat(Join(fails[0].steps, ", "), ". No; ");
  absl::StrAppend(&out.steps, "Try ", StepText(items, *good_move), ", ", LeftText(rest), ": ", miss,
                  Join(good_path->steps, ", "), ". Yes!\n");
  out.solved = true;
  out.equation = good_path->last.expr;
  return out;
}

}  // namespace kiln::tasks
