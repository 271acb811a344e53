// A pre-norm transformer block: x + attn(norm_1(x)), then + mlp(norm_2(.)). Names follow Hugging
// Face: GPT-2 "ln_1", "attn", "ln_2", "mlp"; Llama "input_layernorm", "self_attn",
// "post_attention_layernorm", "mlp".
#pragma once

#include <vector>

#include "nn/attention.h"
#include "nn/config.h"
#include "nn/mlp.h"

namespace kiln::nn {

class Block : public Module {
 public:
  explicit Block(const GptConfig& config);
  Tensor Forward(const Tensor& x, const Tensor& positions, const Tensor& doc_ids) const;
  // Generation (see CausalSelfAttention::ForwardCached); `layer` is this block's index.
  Tensor ForwardCached(const Tensor& x, const Tensor& positions,
                       const std::vector<int64_t>& lengths, const std::vector<KvCache*>& caches,
                       int layer) const;

 private:
  Tensor Norm1(const Tensor& x) const;
  Tensor Norm2(const Tensor& x) const;

  LayerNorm* ln_1_ = nullptr;  // GPT-2
  LayerNorm* ln_2_ = nullptr;
  RmsNorm* rms_1_ = nullptr;  // Llama
  RmsNorm* rms_2_ = nullptr;
  CausalSelfAttention* attn_ = nullptr;
  Mlp* mlp_ = nullptr;
};

// An ordered list of modules named "0", "1", ... (GPT-2's "h", Llama's "layers").
class ModuleList : public Module {
 public:
  ModuleList() : Module("ModuleList") {}
  template <typename M>
  M* Append(std::unique_ptr<M> m) {
    return RegisterModule(std::to_string(children().size()), std::move(m));
  }
};

}  // namespace kiln::nn
