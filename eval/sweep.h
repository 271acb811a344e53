// Summary of a checkpoint sweep (score against training step), the study's dip-and-recovery
// measurement: baseline (the first checkpoint, usually step 0), the minimum over later
// checkpoints and its step, dip depth, the recovery step (the first checkpoint after the minimum
// scoring at or above the baseline) and the final gain.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"

namespace kiln::eval {

struct SweepSummary {
  double baseline = 0;
  double min_score = 0;                 // over checkpoints after the first
  int64_t min_step = 0;
  double dip_depth = 0;                 // max(0, baseline - min_score)
  bool dipped = false;                  // dip_depth > 0
  std::optional<int64_t> recovery_step; // set when dipped and a later checkpoint recovers
  double final_score = 0;
  double final_gain = 0;                // final_score - baseline
};

// steps strictly increasing, same length as scores, at least two checkpoints; else an error.
absl::StatusOr<SweepSummary> SummarizeSweep(const std::vector<int64_t>& steps,
                                            const std::vector<double>& scores);

}  // namespace kiln::eval
