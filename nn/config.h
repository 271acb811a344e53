// One model config for both families kiln builds, read from and written to a Hugging Face
// config.json (the field names transformers uses, so a kiln model folder opens there and an HF
// folder loads here):
//   GPT-2 style ("model_type": "gpt2"): learned positions, LayerNorm, GELU (tanh), fused QKV with
//     bias, tied embeddings. Fields n_embd, n_layer, n_head, n_positions, n_inner,
//     layer_norm_epsilon.
//   Llama style ("model_type": "llama"): RoPE, RMSNorm, SwiGLU, grouped-query attention, untied
//     head. Fields hidden_size, num_hidden_layers, num_attention_heads, num_key_value_heads,
//     intermediate_size, max_position_embeddings, rms_norm_eps, rope_theta, head_dim.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "base/json.h"

namespace kiln::nn {

enum class Family { kGpt2, kLlama };

struct GptConfig {
  Family family = Family::kGpt2;
  int64_t vocab_size = 50257;
  int64_t max_positions = 1024;  // n_positions / max_position_embeddings
  int64_t n_embd = 768;          // n_embd / hidden_size
  int64_t n_layer = 12;          // n_layer / num_hidden_layers
  int64_t n_head = 12;           // n_head / num_attention_heads
  int64_t n_kv_head = 12;        // = n_head for GPT-2; num_key_value_heads
  int64_t head_dim = 64;         // n_embd / n_head unless the Llama config says head_dim
  int64_t n_inner = 3072;        // MLP width: n_inner (null: 4 n_embd) / intermediate_size
  double norm_eps = 1e-5;        // layer_norm_epsilon / rms_norm_eps
  double rope_theta = 10000.0;   // Llama only
  bool tie_word_embeddings = true;
  bool attention_bias = true;    // GPT-2: true; Llama: attention_bias (default false)
  bool mlp_bias = true;          // GPT-2: true; Llama: mlp_bias (default false)
  double initializer_range = 0.02;

  bool is_gpt2() const { return family == Family::kGpt2; }
  // The config.json transformers writes for this model (model_type, architectures, the family's
  // field names).
  Json ToJson() const;
  // Every inconsistency (n_embd not divisible by n_head, n_head not a multiple of n_kv_head, a
  // field of the wrong type, an unknown model_type or activation) is an error naming `where` and
  // the field.
  static absl::StatusOr<GptConfig> FromJson(const Json& j, const std::string& where);
};

// A small GPT-2 / Llama config for tests, demos and benchmarks.
GptConfig TinyGpt2Config(int64_t vocab = 256, int64_t n_embd = 64, int64_t n_layer = 2,
                         int64_t n_head = 4, int64_t max_positions = 128);
GptConfig TinyLlamaConfig(int64_t vocab = 256, int64_t n_embd = 64, int64_t n_layer = 2,
                          int64_t n_head = 4, int64_t n_kv_head = 2, int64_t max_positions = 128);

}  // namespace kiln::nn
