// AdamW: lazily creates zero moments on a param's first update, then hands everything to the
// fused kernel with the group's lr and weight decay and the param's own step count (a param
// skipped for lack of a grad does not advance its bias correction, as in PyTorch).
#include "optim/adamw.h"

namespace kiln::optim {

AdamWConfig AdamW::Checked(const AdamWConfig& c) {
  KILN_CHECK(c.lr >= 0) << "AdamW: expected lr >= 0, got " << c.lr;
  KILN_CHECK(c.beta1 >= 0 && c.beta1 < 1) << "AdamW: expected beta1 in [0, 1), got " << c.beta1;
  KILN_CHECK(c.beta2 >= 0 && c.beta2 < 1) << "AdamW: expected beta2 in [0, 1), got " << c.beta2;
  KILN_CHECK(c.eps >= 0) << "AdamW: expected eps >= 0, got " << c.eps;
  KILN_CHECK(c.weight_decay >= 0) << "AdamW: expected weight_decay >= 0, got " << c.weight_decay;
  return c;
}

AdamW::AdamW(std::vector<ParamGroup> groups, const AdamWConfig& config)
    : Optimizer(std::move(groups), Checked(config).lr, config.weight_decay), config_(config) {}

void AdamW::Update(const Tensor& param, const Tensor& grad, double lr, double weight_decay,
                   ParamState& state) {
  if (state.buffers.empty()) {
    state.buffers = {Zeros(param.shape(), param.dtype(), param.device()),
                     Zeros(param.shape(), param.dtype(), param.device())};
  }
  AdamWConfig c = config_;
  c.lr = lr;
  c.weight_decay = weight_decay;
  ops::AdamW(param, grad, state.buffers[0], state.buffers[1], state.step, c);
}

}  // namespace kiln::optim
