#include "nn/attention.h"

#include "autograd/api.h"
#include "base/check.h"
#include "nn/fusion.h"
#include "ops/api.h"

namespace kiln::nn {

KvCache KvCache::Make(const GptConfig& config, int64_t capacity, Device device) {
  KvCache cache;
  cache.capacity = capacity;
  for (int64_t l = 0; l < config.n_layer; ++l) {
    const Shape shape = {1, config.n_kv_head, capacity, config.head_dim};
    cache.layers.push_back(
        {Tensor::Empty(shape, DType::kF32, device), Tensor::Empty(shape, DType::kF32, device)});
  }
  return cache;
}

CausalSelfAttention::CausalSelfAttention(const GptConfig& config)
    : Module("CausalSelfAttention"), config_(config) {
  const int64_t c = config.n_embd, hs = config.head_dim;
  const int64_t q_width = config.n_head * hs, kv_width = config.n_kv_head * hs;
  if (config.is_gpt2()) {
    c_attn_ = RegisterModule("c_attn", std::make_unique<Linear>(c, 3 * c, config.attention_bias));
    out_proj_ = RegisterModule("c_proj", std::make_unique<Linear>(c, c, config.attention_bias));
  } else {
    q_proj_ = RegisterModule("q_proj", std::make_unique<Linear>(c, q_width, config.attention_bias));
    k_proj_ =
        RegisterModule("k_proj", std::make_unique<Linear>(c, kv_width, config.attention_bias));
    v_proj_ =
        RegisterModule("v_proj", std::make_unique<Linear>(c, kv_width, config.attention_bias));
    out_proj_ =
        RegisterModule("o_proj", std::make_unique<Linear>(q_width, c, config.attention_bias));
  }
}

CausalSelfAttention::Qkv CausalSelfAttention::Project(const Tensor& x,
                                                      const Tensor& positions) const {
  const int64_t b = x.size(0), t = x.size(1), nh = config_.n_head, nkv = config_.n_kv_head,
                hs = config_.head_dim;
  Qkv out;
  if (c_attn_ != nullptr) {
    // (B, T, 3C) viewed as (B, T, 3, NH, HS): q, k, v are strided views, no copy; Unbind's
    // backward writes their three gradients into one (B, T, 3C) tensor.
    Tensor qkv = Reshape(c_attn_->Forward(x), {b, t, 3, nh, hs});
    if (ActiveFusion().qkv) {
      std::vector<Tensor> parts = Unbind(qkv, 2);
      out.q = parts[0];
      out.k = parts[1];
      out.v = parts[2];
    } else {
      out.q = Squeeze(Narrow(qkv, 2, 0, 1), 2);
      out.k = Squeeze(Narrow(qkv, 2, 1, 1), 2);
      out.v = Squeeze(Narrow(qkv, 2, 2, 1), 2);
    }
  } else {
    out.q = Rope(Reshape(q_proj_->Forward(x), {b, t, nh, hs}), positions, config_.rope_theta);
    out.k = Rope(Reshape(k_proj_->Forward(x), {b, t, nkv, hs}), positions, config_.rope_theta);
    out.v = Reshape(v_proj_->Forward(x), {b, t, nkv, hs});
  }
  return out;
}

Tensor CausalSelfAttention::Forward(const Tensor& x, const Tensor& positions,
                                    const Tensor& doc_ids) const {
  KILN_CHECK(x.dim() == 3 && x.size(2) == config_.n_embd)
      << FullName() << ": expected x of shape (B, T, " << config_.n_embd << "), got "
      << ShapeToString(x.shape());
  const int64_t b = x.size(0), t = x.size(1);
  Qkv p = Project(x, positions);
  // (B, T, H, HS) -> (B, H, T, HS) as views; the attention op reads any strides and returns its
  // output as a (B, H, T, HS) view of (B, T, H, HS) memory, so the permute back needs no copy.
  Tensor y = Attention(Permute(p.q, {0, 2, 1, 3}), Permute(p.k, {0, 2, 1, 3}),
                       Permute(p.v, {0, 2, 1, 3}), doc_ids);
  y = Reshape(Permute(y, {0, 2, 1, 3}), {b, t, config_.n_head * config_.head_dim});
  return Output(out_proj_->Forward(y));
}

Tensor CausalSelfAttention::ForwardCached(const Tensor& x, const Tensor& positions,
                                          const std::vector<int64_t>& lengths,
                                          const std::vector<KvCache*>& caches, int layer) const {
  KILN_CHECK(!GradEnabled()) << FullName() << ": ForwardCached runs without autograd";
  KILN_CHECK(lengths.size() == caches.size())
      << FullName() << ": " << lengths.size() << " segment lengths for " << caches.size()
      << " caches";
  const int64_t nh = config_.n_head, hs = config_.head_dim;
  Qkv p = Project(x, positions);
  std::vector<Tensor> outs;
  int64_t row = 0;
  for (size_t s = 0; s < caches.size(); ++s) {
    KvCache& cache = *caches[s];
    const int64_t n = lengths[s];
    KILN_CHECK(cache.length + n <= cache.capacity)
        << FullName() << ": KV cache of sample " << s << " holds " << cache.capacity
        << " tokens; " << cache.length << " cached + " << n << " new do not fit";
    KvCache::Layer& lc = cache.layers.at(layer);
    // Append this segment's keys / values: (1, n, NKV, HS) -> cache (1, NKV, [len, len+n), HS).
    ops::CopyInto(Narrow(lc.k, 2, cache.length, n), Permute(Narrow(p.k, 1, row, n), {0, 2, 1, 3}));
    ops::CopyInto(Narrow(lc.v, 2, cache.length, n), Permute(Narrow(p.v, 1, row, n), {0, 2, 1, 3}));
    const int64_t total = cache.length + n;
    Tensor q = Permute(Narrow(p.q, 1, row, n), {0, 2, 1, 3});
    Tensor y = Attention(q, Narrow(lc.k, 2, 0, total), Narrow(lc.v, 2, 0, total));
    outs.push_back(Reshape(Permute(y, {0, 2, 1, 3}), {1, n, nh * hs}));
    row += n;
  }
  KILN_CHECK(row == x.size(1)) << FullName() << ": segment lengths sum to " << row << ", x has "
                               << x.size(1) << " rows";
  Tensor y = outs.size() == 1 ? outs[0] : Concat(outs, 1);
  return out_proj_->Forward(y);
}

}  // namespace kiln::nn
