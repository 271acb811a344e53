// Learning-rate schedules as pure functions of the step: constant, or linear warmup then
// constant / linear / cosine decay to a floor. The formulas are Hugging Face transformers'
// (get_{constant,linear,cosine}_schedule_with_warmup), with cos from base/kmath.h, so the lr bits
// do not depend on the C library.
#pragma once

#include <cstdint>

namespace kiln::optim {

enum class Decay { kConstant, kLinear, kCosine };

struct ScheduleConfig {
  double base_lr = 1e-3;
  Decay decay = Decay::kConstant;
  int64_t total_steps = 0;  // optimizer steps in the run; needed by kLinear / kCosine / a ratio
  // Warmup length: warmup_steps if > 0, else ceil(warmup_ratio * total_steps) (HF's rule).
  int64_t warmup_steps = 0;
  double warmup_ratio = 0.0;
  // Floor reached at total_steps: min_lr, or min_ratio * base_lr (set at most one).
  double min_lr = 0.0;
  double min_ratio = 0.0;
};

class LrSchedule {
 public:
  // Throws kiln::Error naming the field on a bad config.
  explicit LrSchedule(const ScheduleConfig& config);

  // The lr of the update that follows `step` completed updates (step 0 is the first update).
  //   warmup (step < W):  base * step / W             (so step 0 trains with lr 0, as in HF)
  //   decay:  f = 1 (constant), max(0, (total - step) / max(1, total - W)) (linear),
  //           0.5 (1 + cos(pi p)) (cosine) with p = min(1, (step - W) / max(1, total - W));
  //           lr = base * f + floor * (1 - f)   (HF's base * f exactly when there is no floor)
  // Past total_steps the lr stays at the floor. step < 0 throws.
  double LrAt(int64_t step) const;
  int64_t warmup_steps() const { return warmup_; }
  double floor_lr() const { return floor_; }
  const ScheduleConfig& config() const { return config_; }

 private:
  ScheduleConfig config_;
  int64_t warmup_;
  double floor_;
};

}  // namespace kiln::optim
