#include "nn/block.h"

#include "autograd/api.h"
#include "nn/fusion.h"

namespace kiln::nn {

Block::Block(const GptConfig& config) : Module("Block") {
  const int64_t c = config.n_embd;
  if (config.is_gpt2()) {
    ln_1_ = RegisterModule("ln_1", std::make_unique<LayerNorm>(c, config.norm_eps));
    attn_ = RegisterModule("attn", std::make_unique<CausalSelfAttention>(config));
    ln_2_ = RegisterModule("ln_2", std::make_unique<LayerNorm>(c, config.norm_eps));
  } else {
    rms_1_ = RegisterModule("input_layernorm", std::make_unique<RmsNorm>(c, config.norm_eps));
    attn_ = RegisterModule("self_attn", std::make_unique<CausalSelfAttention>(config));
    rms_2_ =
        RegisterModule("post_attention_layernorm", std::make_unique<RmsNorm>(c, config.norm_eps));
  }
  mlp_ = RegisterModule("mlp", std::make_unique<Mlp>(config));
}

Tensor Block::Norm1(const Tensor& x) const {
  return ln_1_ != nullptr ? ln_1_->Forward(x) : rms_1_->Forward(x);
}

Tensor Block::Norm2(const Tensor& x) const {
  return ln_2_ != nullptr ? ln_2_->Forward(x) : rms_2_->Forward(x);
}

Tensor Block::Forward(const Tensor& x, const Tensor& positions, const Tensor& doc_ids) const {
  const Tensor a = attn_->Forward(Norm1(x), positions, doc_ids);
  const Module* norm2 = ln_2_ != nullptr ? static_cast<const Module*>(ln_2_) : rms_2_;
  if (norm2->Hooked() || !ActiveFusion().norm) {  // a hook wants the norm's own output: the unfused path (same bits)
    Tensor h = x + a;
    return Output(h + mlp_->Forward(Norm2(h)));
  }
  // The residual add and the second norm as one fused op (AddLayerNorm / AddRmsNorm): the bits
  // of Norm2(x + a) in one pass over the rows.
  auto [n2, h] = ln_2_ != nullptr
                     ? AddLayerNorm(x, a, ln_2_->weight(), ln_2_->bias(), ln_2_->eps())
                     : AddRmsNorm(x, a, rms_2_->weight(), rms_2_->eps());
  return Output(h + mlp_->Forward(n2));
}

Tensor Block::ForwardCached(const Tensor& x, const Tensor& positions,
                            const std::vector<int64_t>& lengths,
                            const std::vector<KvCache*>& caches, int layer) const {
  Tensor h = x + attn_->ForwardCached(Norm1(x), positions, lengths, caches, layer);
  return h + mlp_->Forward(Norm2(h));
}

}  // namespace kiln::nn
