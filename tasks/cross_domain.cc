// The cross-domain suite. Every trace writes its arithmetic as "a+b=c" steps, so the same step
// checker that verifies the puzzles verifies these traces too; answers are compared in canonical
// form (integers without spaces or commas, "true"/"false", sorted lists as "1, 2, 3").
#include "tasks/cross_domain.h"

#include <algorithm>
#include <functional>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/rng.h"
#include "tasks/arith.h"

namespace kiln::tasks {
namespace {

constexpr const char* kAskSuffix =
    " Show your work in <think> </think> tags. And return the final answer in <answer> </answer> "
    "tags.";

int64_t RandInt(RngStream& rng, int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(rng.UniformInt(static_cast<uint64_t>(hi - lo + 1)));
}

std::string Op(Rational a, char op, Rational b, Rational c) {
  return absl::StrCat(FormatOperand(a), std::string(1, op), FormatOperand(b), "=",
                      FormatOperand(c));
}
std::string Op(int64_t a, char op, int64_t b, int64_t c) {
  return Op(Rational{a, 1}, op, Rational{b, 1}, Rational{c, 1});
}

// Base for tasks whose answer is one value compared in canonical form with spec["answer"].
class ValueTask : public Task {
 public:
  Score ScoreResponse(const Instance& inst, const std::string& response) const override {
    Score s;
    auto ans = ExtractAnswer(response);
    if (!ans) return s;
    s.formatted = true;
    s.reward = 0.1;
    if (Canonical(inst, *ans) == Canonical(inst, inst.spec.at("answer").get<std::string>())) {
      s.correct = true;
      s.reward = 1.0;
    }
    return s;
  }

 protected:
  std::string WriteShort(const Instance& inst) const override {
    return AnswerTag(inst.spec.at("answer").get<std::string>());
  }
};

// "1,234" / " +0042 " -> "1234"; anything not an integer is returned whitespace-collapsed.
std::string CanonicalInteger(const Task& t, const Instance& inst, const std::string& answer) {
  std::string s;
  for (char c : answer) {
    if (c != ',' && c != ' ' && c != '\t' && c != '\n') s += c;
  }
  EvalResult r = EvaluateExpression(s);
  bool plain = !s.empty() && s.find_first_not_of("+-0123456789") == std::string::npos;
  if (plain && r.error == EvalError::kNone && r.value.is_integer()) return FormatRational(r.value);
  return t.Task::Canonical(inst, answer);
}

// ---- arithmetic ---------------------------------------------------------------------------------

class Arithmetic : public ValueTask {
 public:
  std::string name() const override { return "arithmetic"; }
  int min_difficulty() const override { return 1; }
  int max_difficulty() const override { return 4; }
  std::string difficulty_help() const override {
    return "operands of difficulty+1 digits; +, - or *";
  }
  std::string Prompt(const Instance& inst) const override {
    return absl::StrCat("Compute ", inst.spec.at("a").get<int64_t>(), " ",
                        inst.spec.at("op").get<std::string>(), " ",
                        inst.spec.at("b").get<int64_t>(), ".", kAskSuffix);
  }
  std::string Canonical(const Instance& inst, const std::string& answer) const override {
    return CanonicalInteger(*this, inst, answer);
  }

 protected:
  Json MakeSpec(uint64_t seed, int difficulty) const override {
    RngStream rng(seed);
    int digits = difficulty + 1;
    int64_t lo = 1, hi = 9;
    for (int k = 1; k < digits; ++k) lo *= 10;
    hi = lo * 10 - 1;
    char op = "+-*"[rng.UniformInt(3)];
    int64_t a = RandInt(rng, lo, hi), b;
    if (op == '*') {
      int bd = (digits + 1) / 2;
      int64_t blo = 1;
      for (int k = 1; k < bd; ++k) blo *= 10;
      b = RandInt(rng, std::max<int64_t>(2, blo), blo * 10 - 1);
    } else {
      b = RandInt(rng, lo, hi);
    }
    if (op == '-' && a < b) std::swap(a, b);
    int64_t ans = op == '+' ? a + b : op == '-' ? a - b : a * b;
    return Json{{"a", a}, {"b", b}, {"op", std::string(1, op)}, {"answer", absl::StrCat(ans)}};
  }
  std::string WriteCot(const Instance& inst, const TraceOptions&) const override {
    int64_t a = inst.spec.at("a").get<int64_t>(), b = inst.spec.at("b").get<int64_t>();
    char op = inst.spec.at("op").get<std::string>()[0];
    std::string body;
    if (op == '*') {
      int64_t total = 0, scale = 1;
      bool first = true;
      for (int64_t rest = b; rest > 0; rest /= 10, scale *= 10) {
        int64_t d = rest % 10, p = a * d;
        absl::StrAppend(&body, Op(a, '*', d, p));
        if (scale > 1) absl::StrAppend(&body, ", ", Op(p, '*', scale, p * scale));
        p *= scale;
        if (!first) absl::StrAppend(&body, ", ", Op(total, '+', p, total + p));
        absl::StrAppend(&body, "\n");
        total += p;
        first = false;
      }
      absl::StrAppend(&body, "Total ", total, ".\n");
    } else {
      // Column by column from the ones, with carries / borrows.
      int64_t result = 0, scale = 1, carry = 0;
      int col = 1;
      for (int64_t x = a, y = b; x > 0 || y > 0 || carry != 0;
           x /= 10, y /= 10, scale *= 10, ++col) {
        int64_t dx = x % 10, dy = y % 10, digit;
        absl::StrAppend(&body, "Column ", col, ": ");
        if (op == '+') {
          int64_t s = dx + dy;
          absl::StrAppend(&body, Op(dx, '+', dy, s));
          if (carry) absl::StrAppend(&body, ", ", Op(s, '+', carry, s + carry));
          s += carry;
          digit = s % 10;
          carry = s / 10;
        } else {
          int64_t v = dx;
          if (carry) {
            absl::StrAppend(&body, Op(v, '-', carry, v - carry), ", ");
            v -= carry;
          }
          carry = 0;
          if (v < dy) {
            absl::StrAppend(&body, Op(v, '+', 10, v + 10), ", ");
            v += 10;
            carry = 1;
          }
          digit = v - dy;
          absl::StrAppend(&body, Op(v, '-', dy, digit));
        }
        absl::StrAppend(&body, ", write ", digit, carry ? ", carry 1" : "", ".\n");
        result += digit * scale;
      }
      absl::StrAppend(&body, "Result ", result, ".\n");
    }
    return ThinkThen(body, AnswerTag(inst.spec.at("answer").get<std::string>()));
  }
};

// ---- linear equation ----------------------------------------------------------------------------

std::string Linear(int64_t a, int64_t b) {  // "3x + 7", "-x - 2", "5"
  std::string s;
  if (a != 0) s = a == 1 ? "x" : a == -1 ? "-x" : absl::StrCat(a, "x");
  if (b != 0 || s.empty()) {
    if (s.empty()) return absl::StrCat(b);
    absl::StrAppend(&s, b < 0 ? " - " : " + ", b < 0 ? -b : b);
  }
  return s;
}

class LinearEquation : public ValueTask {
 public:
  std::string name() const override { return "linear_equation"; }
  int min_difficulty() const override { return 1; }
  int max_difficulty() const override { return 3; }
  std::string difficulty_help() const override {
    return "1: ax + b = c, 2: ax + b = cx + d, 3: a(x + b) = cx + d";
  }
  std::string Prompt(const Instance& inst) const override {
    return absl::StrCat("Solve for x: ", inst.spec.at("equation").get<std::string>(), ".",
                        kAskSuffix);
  }
  std::string Canonical(const Instance& inst, const std::string& answer) const override {
    std::string s;
    for (char c : answer) {
      if (c != ' ' && c != '\t' && c != '\n') s += c;
    }
    if (s.rfind("x=", 0) == 0) s = s.substr(2);
    EvalResult r = EvaluateExpression(s);
    if (!s.empty() && r.error == EvalError::kNone) return FormatRational(r.value);
    return Task::Canonical(inst, answer);
  }

 protected:
  Json MakeSpec(uint64_t seed, int difficulty) const override {
    RngStream rng(seed);
    int64_t x = RandInt(rng, -20, 20);
    int64_t a = 0, b = RandInt(rng, -30, 30), c = 0, d = 0;
    while (a == 0) a = RandInt(rng, -9, 9);
    std::string eq;
    if (difficulty == 1) {
      d = a * x + b;
      eq = absl::StrCat(Linear(a, b), " = ", d);
    } else {
      while (c == 0 || c == a) c = RandInt(rng, -9, 9);
      if (difficulty == 2) {
        d = a * x + b - c * x;
        eq = absl::StrCat(Linear(a, b), " = ", Linear(c, d));
      } else {
        while (b == 0) b = RandInt(rng, -9, 9);
        d = a * (x + b) - c * x;
        eq = absl::StrCat(a, "(", Linear(1, b), ") = ", Linear(c, d));
      }
    }
    return Json{{"a", a}, {"b", b},         {"c", c},
                {"d", d}, {"equation", eq}, {"answer", absl::StrCat("x = ", x)}};
  }
  std::string WriteCot(const Instance& inst, const TraceOptions&) const override {
    int64_t a = inst.spec.at("a").get<int64_t>(), b = inst.spec.at("b").get<int64_t>();
    int64_t c = inst.spec.at("c").get<int64_t>(), d = inst.spec.at("d").get<int64_t>();
    std::string body;
    if (inst.difficulty == 3) {
      absl::StrAppend(&body, "Expand: ", Op(a, '*', b, a * b), ", so ", Linear(a, a * b), " = ",
                      Linear(c, d), ".\n");
      b = a * b;
    }
    if (inst.difficulty >= 2) {
      absl::StrAppend(&body, "Move the x terms left: ", Op(a, '-', c, a - c), ", so ",
                      Linear(a - c, b), " = ", d, ".\n");
      a -= c;
    }
    absl::StrAppend(&body, "Move ", b, " right: ", Op(d, '-', b, d - b), ", so ", Linear(a, 0),
                    " = ", d - b, ".\n");
    auto x = Div(Rational{d - b, 1}, Rational{a, 1});
    KILN_CHECK(x && x->is_integer()) << "internal error: non-integer solution";
    absl::StrAppend(&body, "Divide by ", a, ": ", Op(Rational{d - b, 1}, '/', Rational{a, 1}, *x),
                    ".\n");
    return ThinkThen(body, AnswerTag(absl::StrCat("x = ", x->num)));
  }
};

// ---- sorting ------------------------------------------------------------------------------------

std::string JoinInts(const std::vector<int64_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) absl::StrAppend(&s, i ? ", " : "", v[i]);
  return s;
}

class Sorting : public ValueTask {
 public:
  std::string name() const override { return "sorting"; }
  int min_difficulty() const override { return 1; }
  int max_difficulty() const override { return 3; }
  std::string difficulty_help() const override { return "lists of 5, 8 or 12 numbers"; }
  std::string Prompt(const Instance& inst) const override {
    return absl::StrCat("Sort these numbers in ascending order: ",
                        JoinInts(inst.spec.at("list").get<std::vector<int64_t>>()), ".",
                        kAskSuffix);
  }
  std::string Canonical(const Instance& inst, const std::string& answer) const override {
    std::string a = answer;
    if (!a.empty() && a.front() == '[' && a.back() == ']') a = a.substr(1, a.size() - 2);
    if (a.find_first_not_of("0123456789, \t\n") != std::string::npos) {
      return Task::Canonical(inst, answer);
    }
    for (char& c : a) {
      if (c == ',') c = ' ';
    }
    auto nums = ExpressionNumbers(a);
    if (!nums) return Task::Canonical(inst, answer);
    return JoinInts(*nums);
  }

 protected:
  Json MakeSpec(uint64_t seed, int difficulty) const override {
    RngStream rng(seed);
    int n = difficulty == 1 ? 5 : difficulty == 2 ? 8 : 12;
    std::vector<int64_t> v;
    for (int i = 0; i < n; ++i) v.push_back(RandInt(rng, 0, 99));
    auto sorted = v;
    std::sort(sorted.begin(), sorted.end());
    return Json{{"list", v}, {"answer", JoinInts(sorted)}};
  }
  std::string WriteCot(const Instance& inst, const TraceOptions&) const override {
    auto rest = inst.spec.at("list").get<std::vector<int64_t>>();
    std::vector<int64_t> out;
    std::string body;
    while (rest.size() > 1) {
      auto it = std::min_element(rest.begin(), rest.end());
      absl::StrAppend(&body, "Smallest of ", JoinInts(rest), " is ", *it, ".\n");
      out.push_back(*it);
      rest.erase(it);
    }
    out.push_back(rest[0]);
    absl::StrAppend(&body, "Last is ", rest[0], ".\n");
    return ThinkThen(body, AnswerTag(JoinInts(out)));
  }
};

// ---- shortest path ------------------------------------------------------------------------------

class ShortestPath : public ValueTask {
 public:
  std::string name() const override { return "shortest_path"; }
  int min_difficulty() const override { return 1; }
  int max_difficulty() const override { return 3; }
  std::string difficulty_help() const override { return "graphs of 4, 5 or 6 nodes"; }
  std::string Prompt(const Instance& inst) const override {
    std::string edges;
    for (const auto& e : inst.spec.at("edges")) {
      absl::StrAppend(&edges, edges.empty() ? "" : ", ", Name(e[0].get<int>()), "-",
                      Name(e[1].get<int>()), " ", e[2].get<int64_t>());
    }
    int n = inst.spec.at("nodes").get<int>();
    return absl::StrCat("An undirected graph has weighted edges ", edges,
                        ". What is the length of the shortest path from A to ", Name(n - 1), "?",
                        kAskSuffix);
  }
  std::string Canonical(const Instance& inst, const std::string& answer) const override {
    return CanonicalInteger(*this, inst, answer);
  }

 protected:
  static std::string Name(int i) { return std::string(1, static_cast<char>('A' + i)); }

  Json MakeSpec(uint64_t seed, int difficulty) const override {
    RngStream rng(seed);
    int n = difficulty + 3;
    std::vector<std::vector<int64_t>> w(n, std::vector<int64_t>(n, 0));
    // A random spanning tree keeps the target reachable; extra edges make choices.
    for (int v = 1; v < n; ++v) w[v][rng.UniformInt(v)] = RandInt(rng, 1, 9);
    for (int k = 0; k < n - 1; ++k) {
      int u = static_cast<int>(rng.UniformInt(n)), v = static_cast<int>(rng.UniformInt(n));
      if (u != v && w[std::max(u, v)][std::min(u, v)] == 0) {
        w[std::max(u, v)][std::min(u, v)] = RandInt(rng, 1, 9);
      }
    }
    Json edges = Json::array();
    for (int u = 0; u < n; ++u) {
      for (int v = u + 1; v < n; ++v) {
        if (w[v][u]) edges.push_back(Json::array({u, v, w[v][u]}));
      }
    }
    Json spec{{"nodes", n}, {"edges", edges}};
    spec["answer"] = absl::StrCat(Dijkstra(spec, nullptr));
    return spec;
  }
  std::string WriteCot(const Instance& inst, const TraceOptions&) const override {
    std::string body;
    int64_t d = Dijkstra(inst.spec, &body);
    return ThinkThen(body, AnswerTag(absl::StrCat(d)));
  }

  // Distance from node 0 to node n-1; writes the steps to `trace` when given.
  static int64_t Dijkstra(const Json& spec, std::string* trace) {
    int n = spec.at("nodes").get<int>();
    std::vector<std::vector<std::pair<int, int64_t>>> adj(n);
    for (const auto& e : spec.at("edges")) {
      int u = e[0].get<int>(), v = e[1].get<int>();
      adj[u].push_back({v, e[2].get<int64_t>()});
      adj[v].push_back({u, e[2].get<int64_t>()});
    }
    std::vector<int64_t> dist(n, -1);
    std::vector<bool> done(n, false);
    dist[0] = 0;
    if (trace) absl::StrAppend(trace, "Start at A with 0.\n");
    while (true) {
      int u = -1;
      for (int v = 0; v < n; ++v) {
        if (!done[v] && dist[v] >= 0 && (u < 0 || dist[v] < dist[u])) u = v;
      }
      KILN_CHECK(u >= 0) << "internal error: target unreachable";
      done[u] = true;
      if (u == n - 1) {
        if (trace) absl::StrAppend(trace, "Reached ", Name(u), " at ", dist[u], ".\n");
        return dist[u];
      }
      if (trace) absl::StrAppend(trace, "Visit ", Name(u), " at ", dist[u], ":");
      bool any = false;
      for (auto [v, w] : adj[u]) {
        if (done[v]) continue;
        int64_t nd = dist[u] + w;
        bool better = dist[v] < 0 || nd < dist[v];
        if (trace) {
          absl::StrAppend(trace, any ? ";" : "", " ", Name(v), " ", Op(dist[u], '+', w, nd),
                          better ? (dist[v] < 0 ? " new" : " better") : " no");
        }
        any = true;
        if (better) dist[v] = nd;
      }
      if (trace) absl::StrAppend(trace, any ? ".\n" : " nothing new.\n");
    }
  }
};

// ---- boolean logic ------------------------------------------------------------------------------

struct Formula {
  std::string text;
  bool value;
};

class BooleanLogic : public ValueTask {
 public:
  std::string name() const override { return "boolean_logic"; }
  int min_difficulty() const override { return 1; }
  int max_difficulty() const override { return 3; }
  std::string difficulty_help() const override { return "formula nesting depth 1, 2 or 3"; }
  std::string Prompt(const Instance& inst) const override {
    std::string vars;
    const auto& vals = inst.spec.at("values");
    for (size_t i = 0; i < vals.size(); ++i) {
      absl::StrAppend(&vars, i ? ", " : "", std::string(1, static_cast<char>('A' + i)), " = ",
                      vals[i].get<bool>() ? "True" : "False");
    }
    return absl::StrCat("Given ", vars, ", evaluate: ", inst.spec.at("formula").get<std::string>(),
                        ".", kAskSuffix);
  }

 protected:
  // Builds a formula of `depth`; writes postorder evaluation steps to `steps` when given.
  static Formula Build(RngStream& rng, int depth, const std::vector<bool>& vals, bool top,
                       std::vector<std::string>* steps) {
    if (depth == 0) {
      int v = static_cast<int>(rng.UniformInt(vals.size()));
      std::string name(1, static_cast<char>('A' + v));
      if (rng.UniformInt(4) == 0) {
        if (steps) {
          steps->push_back(absl::StrCat("not ", name, " = not ", vals[v] ? "True" : "False", " = ",
                                        vals[v] ? "False" : "True"));
        }
        return {"not " + name, !vals[v]};
      }
      return {name, vals[v]};
    }
    Formula l = Build(rng, depth - 1, vals, false, steps);
    Formula r = Build(rng, static_cast<int>(rng.UniformInt(depth)), vals, false, steps);
    bool is_and = rng.UniformInt(2) == 0;
    bool v = is_and ? (l.value && r.value) : (l.value || r.value);
    std::string text = absl::StrCat(l.text, is_and ? " and " : " or ", r.text);
    if (steps) {
      steps->push_back(absl::StrCat(text, " = ", l.value ? "True" : "False",
                                    is_and ? " and " : " or ", r.value ? "True" : "False", " = ",
                                    v ? "True" : "False"));
    }
    return {top ? text : absl::StrCat("(", text, ")"), v};
  }

  Json MakeSpec(uint64_t seed, int difficulty) const override {
    RngStream rng(seed);
    int nvars = 2 + difficulty;
    std::vector<bool> vals;
    for (int i = 0; i < nvars; ++i) vals.push_back(rng.UniformInt(2) == 1);
    uint64_t offset = rng.offset();
    RngStream build(seed, offset);
    Formula f = Build(build, difficulty, vals, true, nullptr);
    return Json{{"values", vals},
                {"formula", f.text},
                {"offset", offset},
                {"answer", f.value ? "True" : "False"}};
  }
  std::string WriteCot(const Instance& inst, const TraceOptions&) const override {
    auto vals = inst.spec.at("values").get<std::vector<bool>>();
    RngStream build(inst.seed, inst.spec.at("offset").get<uint64_t>());
    std::vector<std::string> steps;
    Formula f = Build(build, inst.difficulty, vals, true, &steps);
    std::string body;
    for (const auto& s : steps) absl::StrAppend(&body, s, ".\n");
    return ThinkThen(body, AnswerTag(f.value ? "True" : "False"));
  }
};

}  // namespace

std::unique_ptr<Task> MakeCrossDomainTask(const std::string& name) {
  if (name == "arithmetic") return std::make_unique<Arithmetic>();
  if (name == "linear_equation") return std::make_unique<LinearEquation>();
  if (name == "sorting") return std::make_unique<Sorting>();
  if (name == "shortest_path") return std::make_unique<ShortestPath>();
  if (name == "boolean_logic") return std::make_unique<BooleanLogic>();
  return nullptr;
}

}  // namespace kiln::tasks
