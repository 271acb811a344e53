// SGD update from plain ops. The new momentum buffer replaces the old one (no in-place write is
// needed), and the param is overwritten in place so that every handle to it sees the update.
#include "optim/sgd.h"

#include "ops/api.h"

namespace kiln::optim {

SgdConfig Sgd::Checked(const SgdConfig& c) {
  KILN_CHECK(c.lr >= 0) << "Sgd: expected lr >= 0, got " << c.lr;
  KILN_CHECK(c.momentum >= 0) << "Sgd: expected momentum >= 0, got " << c.momentum;
  KILN_CHECK(c.dampening >= 0 && c.dampening <= 1)
      << "Sgd: expected dampening in [0, 1], got " << c.dampening;
  KILN_CHECK(c.weight_decay >= 0) << "Sgd: expected weight_decay >= 0, got " << c.weight_decay;
  KILN_CHECK(!c.nesterov || (c.momentum > 0 && c.dampening == 0))
      << "Sgd: nesterov needs momentum > 0 and dampening 0, got momentum " << c.momentum
      << " and dampening " << c.dampening;
  return c;
}

Sgd::Sgd(std::vector<ParamGroup> groups, const SgdConfig& config)
    : Optimizer(std::move(groups), Checked(config).lr, config.weight_decay), config_(config) {}

std::vector<std::string> Sgd::BufferNames() const {
  if (config_.momentum == 0) return {};
  return {"momentum_buffer"};
}

void Sgd::Update(const Tensor& param, const Tensor& grad, double lr, double weight_decay,
                 ParamState& state) {
  Tensor g = grad;
  if (weight_decay != 0) g = ops::Add(g, ops::MulScalar(param, weight_decay));
  if (config_.momentum != 0) {
    if (state.buffers.empty()) {
      // A copy: g may be the grad itself, which the caller may change or free.
      Tensor buf = Tensor::Empty(g.shape(), g.dtype(), g.device());
      buf.CopyFrom_(g);
      state.buffers.push_back(buf);
    } else {
      Tensor next = ops::MulScalar(state.buffers[0], config_.momentum);
      next = ops::Add(next, config_.dampening == 0 ? g : ops::MulScalar(g, 1 - config_.dampening));
      state.buffers[0] = next;
    }
    const Tensor& buf = state.buffers[0];
    g = config_.nesterov ? ops::Add(g, ops::MulScalar(buf, config_.momentum)) : buf;
  }
  Tensor target = param;  // a handle to the same storage (CopyFrom_ is non-const)
  target.CopyFrom_(ops::Sub(param, ops::MulScalar(g, lr)));
}

}  // namespace kiln::optim
