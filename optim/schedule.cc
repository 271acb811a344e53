// LrSchedule: HF's warmup + decay formulas in double. kmath::Cos gives cos(0) = 1 and cos(pi) = -1
// exactly, so the end of warmup is base_lr and the end of the run is the floor, bit for bit.
#include "optim/schedule.h"

#include <algorithm>
#include <cmath>

#include "base/check.h"
#include "base/kmath.h"

namespace kiln::optim {

LrSchedule::LrSchedule(const ScheduleConfig& c) : config_(c) {
  KILN_CHECK(c.base_lr >= 0) << "LrSchedule: expected base_lr >= 0, got " << c.base_lr;
  KILN_CHECK(c.total_steps >= 0) << "LrSchedule: expected total_steps >= 0, got " << c.total_steps;
  KILN_CHECK(c.decay == Decay::kConstant || c.total_steps >= 1)
      << "LrSchedule: linear / cosine decay needs total_steps >= 1, got " << c.total_steps;
  KILN_CHECK(c.warmup_steps >= 0) << "LrSchedule: expected warmup_steps >= 0, got "
                                  << c.warmup_steps;
  KILN_CHECK(c.warmup_ratio >= 0 && c.warmup_ratio <= 1)
      << "LrSchedule: expected warmup_ratio in [0, 1], got " << c.warmup_ratio;
  KILN_CHECK(c.warmup_ratio == 0 || c.total_steps >= 1)
      << "LrSchedule: warmup_ratio " << c.warmup_ratio << " needs total_steps >= 1, got "
      << c.total_steps;
  KILN_CHECK(c.warmup_ratio == 0 || c.warmup_steps == 0)
      << "LrSchedule: set warmup_steps (" << c.warmup_steps << ") or warmup_ratio ("
      << c.warmup_ratio << "), not both";
  warmup_ =
      c.warmup_steps > 0
          ? c.warmup_steps
          : static_cast<int64_t>(std::ceil(c.warmup_ratio * static_cast<double>(c.total_steps)));
  KILN_CHECK(c.decay == Decay::kConstant || warmup_ <= c.total_steps)
      << "LrSchedule: warmup of " << warmup_ << " steps is longer than total_steps "
      << c.total_steps;
  KILN_CHECK(c.min_lr >= 0 && c.min_lr <= c.base_lr)
      << "LrSchedule: expected min_lr in [0, base_lr " << c.base_lr << "], got " << c.min_lr;
  KILN_CHECK(c.min_ratio >= 0 && c.min_ratio <= 1)
      << "LrSchedule: expected min_ratio in [0, 1], got " << c.min_ratio;
  KILN_CHECK(c.min_lr == 0 || c.min_ratio == 0)
      << "LrSchedule: set min_lr (" << c.min_lr << ") or min_ratio (" << c.min_ratio
      << "), not both";
  floor_ = c.min_lr > 0 ? c.min_lr : c.base_lr * c.min_ratio;
}

double LrSchedule::LrAt(int64_t step) const {
  KILN_CHECK(step >= 0) << "LrSchedule::LrAt: expected step >= 0, got " << step;
  const double base = config_.base_lr;
  if (step < warmup_) {
    return base * (static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup_)));
  }
  if (config_.decay == Decay::kConstant) return base;
  const double span = static_cast<double>(std::max<int64_t>(1, config_.total_steps - warmup_));
  const double p = std::min(1.0, static_cast<double>(step - warmup_) / span);
  // kPi is the double nearest pi, as Python's math.pi.
  constexpr double kPi = 3.141592653589793;
  const double f = config_.decay == Decay::kLinear
                       ? std::max(0.0, static_cast<double>(config_.total_steps - step) / span)
                       : 0.5 * (1.0 + kmath::Cos(kPi * p));
  return base * f + floor_ * (1.0 - f);
}

}  // namespace kiln::optim
