// The feed-forward part of a block. GPT-2: c_fc -> GELU (tanh) -> c_proj. Llama (SwiGLU):
// down_proj(silu(gate_proj(x)) * up_proj(x)).
#pragma once

#include "nn/config.h"
#include "nn/layers.h"

namespace kiln::nn {

class Mlp : public Module {
 public:
  explicit Mlp(const GptConfig& config);
  Tensor Forward(const Tensor& x) const;

 private:
  bool gpt2_;
  Linear* c_fc_ = nullptr;
  Linear* c_proj_ = nullptr;
  Linear* gate_proj_ = nullptr;
  Linear* up_proj_ = nullptr;
  Linear* down_proj_ = nullptr;
};

}  // namespace kiln::nn
