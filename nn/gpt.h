// GptModel: one decoder-only transformer built from a GptConfig, covering GPT-2 (learned
// positions, LayerNorm, GELU, tied embeddings) and Llama (RoPE, RMSNorm, SwiGLU, GQA, untied
// head). State-dict names are Hugging Face's:
//   GPT-2: wte.weight, wpe.weight, h.<i>.ln_1.weight, h.<i>.attn.c_attn.weight, ...,
//          ln_f.weight (the head is wte, tied; no lm_head.weight)
//   Llama: model.embed_tokens.weight, model.layers.<i>.self_attn.q_proj.weight, ...,
//          model.norm.weight, lm_head.weight (absent when tie_word_embeddings)
// Linear weights are (out, in) as torch.nn.Linear; GPT-2's on-disk Conv1D layout (in, out) is
// converted when reading / writing folders (nn/model_io.h).
//
// Inputs carry explicit positions and document ids, so a packed row of several documents
// restarts positions per document and no token attends across a document boundary.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "nn/block.h"
#include "nn/config.h"
#include "nn/kv_cache.h"
#include "nn/layers.h"

namespace kiln::nn {

struct ModelInput {
  Tensor ids;        // (B, T) i32 or i64
  Tensor positions;  // (B, T) i32; undefined: 0..T-1 in every row
  Tensor doc_ids;    // (B, T) i32; undefined: each row is one document
};

// (B, T) positions that restart at 0 after every `eos` token (the token after an eos starts a new
// document), and the matching document ids. `ids` (B, T) i32 or i64.
struct PackedPositions {
  Tensor positions, doc_ids;
};
PackedPositions PositionsFromEos(const Tensor& ids, int64_t eos);

class GptModel : public Module {
 public:
  explicit GptModel(const GptConfig& config);
  const GptConfig& config() const { return config_; }

  // GPT-2 initialization: every Linear / Embedding weight ~ N(0, initializer_range), the
  // residual projections (c_proj / o_proj / down_proj) scaled by 1/sqrt(2 n_layer), biases 0,
  // norm weights 1. Parameter i draws from Philox(seed, i << 40 + element), so each parameter's
  // values depend only on (seed, its index).
  void Init(uint64_t seed);

  // Final hidden states (B, T, C), after the last norm.
  Tensor Hidden(const ModelInput& in) const;
  // (..., C) -> (..., V).
  Tensor Logits(const Tensor& hidden) const;
  Tensor Forward(const ModelInput& in) const { return Logits(Hidden(in)); }
  // log p(targets[b, t] | ids[b, <=t]) as (B, T) f32; 0 where targets == ignore_index. The
  // (B, T, V) logits are the only vocabulary-sized tensor built.
  Tensor TokenLogprobs(const ModelInput& in, const Tensor& targets,
                       int64_t ignore_index = -100) const;
  // Mean cross-entropy over the targets that are not ignore_index (a scalar).
  Tensor Loss(const ModelInput& in, const Tensor& targets, int64_t ignore_index = -100) const;
  // Sum of the per-token cross-entropies (a scalar): for losses normalized over a global batch.
  // The head and the cross-entropy run as one tiled op (LinearCrossEntropy): no (B, T, V) tensor
  // is built. Equal to the unfused path within float rounding (bitwise for V <= 4096).
  Tensor LossSum(const ModelInput& in, const Tensor& targets, int64_t ignore_index = -100) const;

  // Generation (no autograd). tokens: the new tokens of each sample, back to back (sample s has
  // lengths[s] of them, continuing at position caches[s]->length); they are appended to the
  // caches, whose lengths advance. Returns the logits (S, V) of each sample's last new token.
  // Each row's bits equal those of Forward over the sample's whole sequence.
  Tensor ForwardCached(const std::vector<int32_t>& tokens, const std::vector<int64_t>& lengths,
                       const std::vector<KvCache*>& caches) const;

 private:
  Tensor Embed(const Tensor& ids, const Tensor& positions) const;
  Tensor FinalNorm(const Tensor& x) const;

  GptConfig config_;
  Embedding* wte_ = nullptr;  // wte / model.embed_tokens
  Embedding* wpe_ = nullptr;  // GPT-2 only
  ModuleList* layers_ = nullptr;
  std::vector<Block*> blocks_;
  LayerNorm* ln_f_ = nullptr;     // GPT-2
  RmsNorm* norm_ = nullptr;       // Llama
  Linear* lm_head_ = nullptr;     // untied only
};

}  // namespace kiln::nn
