#include "eval/metrics.h"

#include <algorithm>
#include <map>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "base/rng.h"

namespace kiln::eval {

absl::StatusOr<double> PassAtK(int64_t n, int64_t c, int64_t k) {
  if (k < 1) return absl::InvalidArgumentError(absl::StrCat("pass@k: k must be >= 1, got ", k));
  if (k > n) {
    return absl::InvalidArgumentError(
        absl::StrCat("pass@k: k = ", k, " is larger than the number of samples n = ", n));
  }
  if (c < 0 || c > n) {
    return absl::InvalidArgumentError(
        absl::StrCat("pass@k: correct count c = ", c, " outside [0, n = ", n, "]"));
  }
  if (n - c < k) return 1.0;  // every k-subset contains a correct sample
  double none = 1.0;         // C(n - c, k) / C(n, k)
  for (int64_t i = n - c + 1; i <= n; ++i) {
    none *= 1.0 - static_cast<double>(k) / static_cast<double>(i);
  }
  return 1.0 - none;
}

absl::StatusOr<double> AvgAtK(int64_t n, int64_t c) {
  if (n <= 0) return absl::InvalidArgumentError("avg@k: no samples");
  if (c < 0 || c > n) {
    return absl::InvalidArgumentError(
        absl::StrCat("avg@k: correct count c = ", c, " outside [0, n = ", n, "]"));
  }
  return static_cast<double>(c) / static_cast<double>(n);
}

double MajAtK(const std::vector<Vote>& votes) {
  // answer -> (votes, correct); std::map iterates answers in lexicographic order, so the first
  // answer reaching the maximum is the smallest one: the tie rule.
  std::map<std::string, std::pair<int64_t, bool>> tally;
  for (const Vote& v : votes) {
    if (v.answer.empty()) continue;
    auto& [count, correct] = tally[v.answer];
    ++count;
    correct = correct || v.correct;  // one normalized answer is correct or not, whoever gave it
  }
  int64_t best = 0;
  bool best_correct = false;
  for (const auto& [answer, entry] : tally) {
    if (entry.first > best) {
      best = entry.first;
      best_correct = entry.second;
    }
  }
  return best_correct ? 1.0 : 0.0;
}

namespace {

double Quantile(std::vector<double> sorted, double q) {
  // Linear interpolation between order statistics (numpy's default).
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, sorted.size() - 1);
  const double frac = pos - static_cast<double>(lo);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * frac;
}

absl::StatusOr<Interval> Bootstrap(const std::vector<double>& a, const std::vector<double>* b,
                                   uint64_t seed, int resamples) {
  const size_t n = a.size();
  if (n == 0) return absl::InvalidArgumentError("bootstrap: no values");
  if (resamples < 1) return absl::InvalidArgumentError("bootstrap: resamples must be >= 1");
  auto value = [&](size_t i) { return b == nullptr ? a[i] : (*b)[i] - a[i]; };
  double total = 0;
  for (size_t i = 0; i < n; ++i) total += value(i);
  std::vector<double> means(resamples);
  RngStream rng(seed);
  for (int r = 0; r < resamples; ++r) {
    double s = 0;
    for (size_t j = 0; j < n; ++j) s += value(rng.UniformInt(n));
    means[r] = s / static_cast<double>(n);
  }
  std::sort(means.begin(), means.end());
  return Interval{total / static_cast<double>(n), Quantile(means, 0.025), Quantile(means, 0.975)};
}

}  // namespace

absl::StatusOr<Interval> BootstrapMean(const std::vector<double>& values, uint64_t seed,
                                       int resamples) {
  return Bootstrap(values, nullptr, seed, resamples);
}

absl::StatusOr<Interval> PairedBootstrapDiff(const std::vector<double>& a,
                                             const std::vector<double>& b, uint64_t seed,
                                             int resamples) {
  if (a.size() != b.size()) {
    return absl::InvalidArgumentError(absl::StrCat("paired bootstrap: ", a.size(), " vs ",
                                                   b.size(), " values (the same prompts needed)"));
  }
  return Bootstrap(a, &b, seed, resamples);
}

}  // namespace kiln::eval
