// AdamW (torch.optim.AdamW's formula: decoupled weight decay, bias correction) on the fused
// in-place kernel ops::AdamW: one call per param, whose moments and step count this class keeps.
// Elementwise, so the result has the same bits for any thread count.
#pragma once

#include "ops/api.h"
#include "optim/optimizer.h"

namespace kiln::optim {

using ops::AdamWConfig;  // lr, beta1, beta2, eps, weight_decay (the default for groups)

class AdamW : public Optimizer {
 public:
  // Throws kiln::Error naming the field for a bad config (negative lr / eps / weight_decay, a beta
  // outside [0, 1)).
  AdamW(std::vector<ParamGroup> groups, const AdamWConfig& config);
  const char* Name() const override { return "adamw"; }
  const AdamWConfig& config() const { return config_; }

 protected:
  std::vector<std::string> BufferNames() const override { return {"exp_avg", "exp_avg_sq"}; }
  void Update(const Tensor& param, const Tensor& grad, double lr, double weight_decay,
              ParamState& state) override;

 private:
  static AdamWConfig Checked(const AdamWConfig& config);
  AdamWConfig config_;
};

}  // namespace kiln::optim
