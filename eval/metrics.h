// Evaluation metrics over k samples per prompt (the SFT/evaluation issue): avg@k, unbiased pass@k
// (Chen et al. 2021), maj@k with an order-independent tie rule, and seeded bootstrap confidence
// intervals over prompts (plain and paired). Pure functions: no model, no I/O.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kiln::eval {

// 1 - C(n - c, k) / C(n, k): the chance that at least one of k samples drawn without replacement
// from n (c of them correct) is correct. Computed as 1 - prod_{i = n-c+1..n} (1 - k / i), which
// never forms a binomial coefficient (stable for any n). Errors: k > n, k < 1, c outside [0, n].
absl::StatusOr<double> PassAtK(int64_t n, int64_t c, int64_t k);

// Mean correctness of the samples (c / n); an error for n = 0.
absl::StatusOr<double> AvgAtK(int64_t n, int64_t c);

// One sample's vote: its normalized answer ("" when it has none) and whether it is correct.
struct Vote {
  std::string answer;
  bool correct = false;
};
// Majority vote over the samples that have an answer: the answer with most votes wins; a tie goes
// to the lexicographically smallest normalized answer, so the result does not depend on the
// order of the samples. 1 if the winner is correct, 0 if not or if no sample has an answer.
double MajAtK(const std::vector<Vote>& votes);

struct Interval {
  double mean = 0, lo = 0, hi = 0;  // point estimate and the 95% percentile interval
};
// Percentile bootstrap over prompts: `resamples` draws of values.size() prompts with replacement
// (indices from Philox(seed, ...)), the 2.5% and 97.5% quantiles of the resampled means.
// Deterministic for a seed. An empty input gives an error.
absl::StatusOr<Interval> BootstrapMean(const std::vector<double>& values, uint64_t seed,
                                       int resamples = 1000);
// Paired bootstrap of mean(b - a) over the same prompts (same indices for both); sizes must match.
absl::StatusOr<Interval> PairedBootstrapDiff(const std::vector<double>& a,
                                             const std::vector<double>& b, uint64_t seed,
                                             int resamples = 1000);

}  // namespace kiln::eval
