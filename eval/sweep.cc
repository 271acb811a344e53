#include "eval/sweep.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace kiln::eval {

absl::StatusOr<SweepSummary> SummarizeSweep(const std::vector<int64_t>& steps,
                                            const std::vector<double>& scores) {
  if (steps.size() != scores.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("sweep: ", steps.size(), " steps but ", scores.size(), " scores"));
  }
  if (steps.size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("sweep: need at least 2 checkpoints, got ", steps.size()));
  }
  for (size_t i = 1; i < steps.size(); ++i) {
    if (steps[i] <= steps[i - 1]) {
      return absl::InvalidArgumentError(absl::StrCat("sweep: steps must increase, got ",
                                                     steps[i - 1], " then ", steps[i]));
    }
  }
  SweepSummary s;
  s.baseline = scores[0];
  size_t arg_min = 1;
  for (size_t i = 2; i < scores.size(); ++i) {
    if (scores[i] < scores[arg_min]) arg_min = i;  // the first minimum on ties
  }
  s.min_score = scores[arg_min];
  s.min_step = steps[arg_min];
  s.dipped = s.min_score < s.baseline;
  s.dip_depth = s.dipped ? s.baseline - s.min_score : 0.0;
  if (s.dipped) {
    for (size_t i = arg_min + 1; i < scores.size(); ++i) {
      if (scores[i] >= s.baseline) {
        s.recovery_step = steps[i];
        break;
      }
    }
  }
  s.final_score = scores.back();
  s.final_gain = s.final_score - s.baseline;
  return s;
}

}  // namespace kiln::eval
