// Causal self-attention on kiln's fused attention op: multi-head or grouped-query, learned
// positions (GPT-2: nothing to do here) or RoPE (Llama, rotate-half). Parameter names follow
// Hugging Face: GPT-2 has a fused "c_attn" (3 C outputs, q|k|v) and "c_proj"; Llama has
// "q_proj", "k_proj", "v_proj", "o_proj".
#pragma once

#include <vector>

#include "nn/config.h"
#include "nn/kv_cache.h"
#include "nn/layers.h"

namespace kiln::nn {

class CausalSelfAttention : public Module {
 public:
  explicit CausalSelfAttention(const GptConfig& config);

  // x (B, T, C), positions (B, T) i32 (used by RoPE), doc_ids (B, T) i32 or undefined (a query
  // sees only earlier keys of its own document) -> (B, T, C).
  Tensor Forward(const Tensor& x, const Tensor& positions, const Tensor& doc_ids) const;

  // Generation (no autograd): x (1, N, C) holds the new tokens of several samples back to back,
  // segment s being lengths[s] rows of sample s, whose positions continue from
  // caches[s]->length. Projections run over all N rows at once (each row's bits do not depend on
  // the others); attention runs per sample against its own cache, after the segment's keys and
  // values are appended to caches[s]->layers[layer]. Does not advance caches[s]->length.
  Tensor ForwardCached(const Tensor& x, const Tensor& positions,
                       const std::vector<int64_t>& lengths, const std::vector<KvCache*>& caches,
                       int layer) const;

  struct Qkv {
    Tensor q;     // (B, T, NH, HS), RoPE applied
    Tensor k, v;  // (B, T, NKV, HS)
  };
  Qkv Project(const Tensor& x, const Tensor& positions) const;

 private:
  GptConfig config_;
  Linear* c_attn_ = nullptr;  // GPT-2
  Linear* q_proj_ = nullptr;  // Llama
  Linear* k_proj_ = nullptr;
  Linear* v_proj_ = nullptr;
  Linear* out_proj_ = nullptr;  // c_proj / o_proj
};

}  // namespace kiln::nn
