#include "nn/mlp.h"

#include "autograd/api.h"
#include "nn/fusion.h"

namespace kiln::nn {

Mlp::Mlp(const GptConfig& config) : Module("Mlp"), gpt2_(config.is_gpt2()) {
  const int64_t c = config.n_embd, h = config.n_inner;
  if (gpt2_) {
    c_fc_ = RegisterModule("c_fc", std::make_unique<Linear>(c, h, config.mlp_bias));
    c_proj_ = RegisterModule("c_proj", std::make_unique<Linear>(h, c, config.mlp_bias));
  } else {
    gate_proj_ = RegisterModule("gate_proj", std::make_unique<Linear>(c, h, config.mlp_bias));
    up_proj_ = RegisterModule("up_proj", std::make_unique<Linear>(c, h, config.mlp_bias));
    down_proj_ = RegisterModule("down_proj", std::make_unique<Linear>(h, c, config.mlp_bias));
  }
}

Tensor Mlp::Forward(const Tensor& x) const {
  if (gpt2_) return Output(c_proj_->Forward(Gelu(c_fc_->Forward(x))));
  // silu(gate) * up as one fused op (the bits of the Silu / Mul chain).
  if (!ActiveFusion().swiglu) {
    return Output(down_proj_->Forward(Silu(gate_proj_->Forward(x)) * up_proj_->Forward(x)));
  }
  return Output(down_proj_->Forward(Swiglu(gate_proj_->Forward(x), up_proj_->Forward(x))));
}

}  // namespace kiln::nn
