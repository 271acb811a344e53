// SGD with momentum, torch.optim.SGD's semantics: g += wd * p; buf = momentum * buf +
// (1 - dampening) * g (buf = g on a param's first step); g = nesterov ? g + momentum * buf : buf;
// p -= lr * g. Built from plain ops, so it runs wherever they do.
#pragma once

#include "optim/optimizer.h"

namespace kiln::optim {

struct SgdConfig {
  double lr = 1e-3;
  double momentum = 0.0;
  double dampening = 0.0;
  double weight_decay = 0.0;  // L2 added to the gradient (coupled), the default for groups
  bool nesterov = false;      // needs momentum > 0 and dampening == 0 (as in PyTorch)
};

class Sgd : public Optimizer {
 public:
  // Throws kiln::Error naming the field for a bad config (negative lr / momentum / weight_decay,
  // dampening outside [0, 1], nesterov without momentum or with dampening).
  Sgd(std::vector<ParamGroup> groups, const SgdConfig& config);
  const char* Name() const override { return "sgd"; }
  const SgdConfig& config() const { return config_; }

 protected:
  // "momentum_buffer" when momentum != 0; plain SGD keeps no state tensors.
  std::vector<std::string> BufferNames() const override;
  void Update(const Tensor& param, const Tensor& grad, double lr, double weight_decay,
              ParamState& state) override;

 private:
  static SgdConfig Checked(const SgdConfig& config);
  SgdConfig config_;
};

}  // namespace kiln::optim
