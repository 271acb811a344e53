#include "nn/config.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace kiln::nn {
namespace {

absl::Status Bad(const std::string& where, const std::string& field, const std::string& what) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": field '", field, "': ", what));
}

// An integer field that may be absent or null (then `fallback`).
absl::StatusOr<int64_t> IntOr(const Json& j, const std::string& field, const std::string& where,
                              int64_t fallback) {
  if (!j.contains(field) || j.at(field).is_null()) return fallback;
  return GetField<int64_t>(j, field, where);
}

absl::StatusOr<double> NumOr(const Json& j, const std::string& field, const std::string& where,
                             double fallback) {
  if (!j.contains(field) || j.at(field).is_null()) return fallback;
  return GetField<double>(j, field, where);
}

absl::StatusOr<bool> BoolOr(const Json& j, const std::string& field, const std::string& where,
                            bool fallback) {
  if (!j.contains(field) || j.at(field).is_null()) return fallback;
  return GetField<bool>(j, field, where);
}

#define KILN_ASSIGN(lhs, expr)          \
  do {                                  \
    auto _v = (expr);                   \
    if (!_v.ok()) return _v.status();   \
    lhs = *_v;                          \
  } while (0)

}  // namespace

absl::StatusOr<GptConfig> GptConfig::FromJson(const Json& j, const std::string& where) {
  if (!j.is_object()) return absl::InvalidArgumentError(where + ": expected a JSON object");
  std::string type;
  KILN_ASSIGN(type, GetField<std::string>(j, "model_type", where));
  GptConfig c;
  if (type == "gpt2") {
    c.family = Family::kGpt2;
    KILN_ASSIGN(c.vocab_size, GetField<int64_t>(j, "vocab_size", where));
    KILN_ASSIGN(c.max_positions, GetField<int64_t>(j, "n_positions", where));
    KILN_ASSIGN(c.n_embd, GetField<int64_t>(j, "n_embd", where));
    KILN_ASSIGN(c.n_layer, GetField<int64_t>(j, "n_layer", where));
    KILN_ASSIGN(c.n_head, GetField<int64_t>(j, "n_head", where));
    c.n_kv_head = c.n_head;
    KILN_ASSIGN(c.n_inner, IntOr(j, "n_inner", where, 4 * c.n_embd));
    KILN_ASSIGN(c.norm_eps, NumOr(j, "layer_norm_epsilon", where, 1e-5));
    KILN_ASSIGN(c.tie_word_embeddings, BoolOr(j, "tie_word_embeddings", where, true));
    std::string act;
    KILN_ASSIGN(act, GetFieldOr<std::string>(j, "activation_function", where, "gelu_new"));
    if (act != "gelu_new" && act != "gelu_pytorch_tanh") {
      return Bad(where, "activation_function",
                 absl::StrCat("kiln's GPT-2 uses the tanh GELU ('gelu_new'), got '", act, "'"));
    }
    // Attention variants transformers' GPT-2 has and kiln does not: refused, never ignored (they
    // change the logits).
    bool flag = false;
    KILN_ASSIGN(flag, BoolOr(j, "scale_attn_weights", where, true));
    if (!flag) return Bad(where, "scale_attn_weights", "only true (1/sqrt(head_dim)) is supported");
    KILN_ASSIGN(flag, BoolOr(j, "scale_attn_by_inverse_layer_idx", where, false));
    if (flag) return Bad(where, "scale_attn_by_inverse_layer_idx", "only false is supported");
    c.attention_bias = c.mlp_bias = true;
    if (c.n_head <= 0 || c.n_embd % c.n_head != 0) {
      return Bad(where, "n_head",
                 absl::StrCat(c.n_head, " does not divide n_embd ", c.n_embd));
    }
    c.head_dim = c.n_embd / c.n_head;
  } else if (type == "llama") {
    c.family = Family::kLlama;
    KILN_ASSIGN(c.vocab_size, GetField<int64_t>(j, "vocab_size", where));
    KILN_ASSIGN(c.max_positions, GetField<int64_t>(j, "max_position_embeddings", where));
    KILN_ASSIGN(c.n_embd, GetField<int64_t>(j, "hidden_size", where));
    KILN_ASSIGN(c.n_layer, GetField<int64_t>(j, "num_hidden_layers", where));
    KILN_ASSIGN(c.n_head, GetField<int64_t>(j, "num_attention_heads", where));
    KILN_ASSIGN(c.n_kv_head, IntOr(j, "num_key_value_heads", where, c.n_head));
    KILN_ASSIGN(c.n_inner, GetField<int64_t>(j, "intermediate_size", where));
    KILN_ASSIGN(c.norm_eps, NumOr(j, "rms_norm_eps", where, 1e-6));
    KILN_ASSIGN(c.rope_theta, NumOr(j, "rope_theta", where, 10000.0));
    KILN_ASSIGN(c.tie_word_embeddings, BoolOr(j, "tie_word_embeddings", where, false));
    KILN_ASSIGN(c.attention_bias, BoolOr(j, "attention_bias", where, false));
    KILN_ASSIGN(c.mlp_bias, BoolOr(j, "mlp_bias", where, false));
    std::string act;
    KILN_ASSIGN(act, GetFieldOr<std::string>(j, "hidden_act", where, "silu"));
    if (act != "silu") {
      return Bad(where, "hidden_act", absl::StrCat("kiln's Llama uses 'silu', got '", act, "'"));
    }
    if (j.contains("rope_scaling") && !j.at("rope_scaling").is_null()) {
      return Bad(where, "rope_scaling", "RoPE scaling is not supported (only plain RoPE)");
    }
    if (c.n_head <= 0) return Bad(where, "num_attention_heads", "must be > 0");
    KILN_ASSIGN(c.head_dim, IntOr(j, "head_dim", where,
                                  c.n_embd % c.n_head == 0 ? c.n_embd / c.n_head : -1));
    if (c.head_dim <= 0 || c.head_dim % 2 != 0) {
      return Bad(where, "head_dim",
                 absl::StrCat("must be a positive even number (hidden_size ", c.n_embd,
                              " / num_attention_heads ", c.n_head, "), got ", c.head_dim));
    }
    if (c.n_kv_head <= 0 || c.n_head % c.n_kv_head != 0) {
      return Bad(where, "num_key_value_heads",
                 absl::StrCat(c.n_kv_head, " does not divide num_attention_heads ", c.n_head));
    }
  } else {
    return Bad(where, "model_type",
               absl::StrCat("expected \"gpt2\" or \"llama\", got \"", type, "\""));
  }
  KILN_ASSIGN(c.initializer_range, NumOr(j, "initializer_range", where, 0.02));
  // Named by the config.json field of the family (an error must name a field the file has).
  const bool g = c.is_gpt2();
  const std::pair<const char*, int64_t> positive[] = {
      {"vocab_size", c.vocab_size},
      {g ? "n_positions" : "max_position_embeddings", c.max_positions},
      {g ? "n_embd" : "hidden_size", c.n_embd},
      {g ? "n_layer" : "num_hidden_layers", c.n_layer},
      {g ? "n_inner" : "intermediate_size", c.n_inner}};
  for (const auto& [name, v] : positive) {
    if (v <= 0) return Bad(where, name, absl::StrCat("must be > 0, got ", v));
  }
  return c;
}

Json GptConfig::ToJson() const {
  Json j;
  if (is_gpt2()) {
    j["model_type"] = "gpt2";
    j["architectures"] = {"GPT2LMHeadModel"};
    j["vocab_size"] = vocab_size;
    j["n_positions"] = max_positions;
    j["n_ctx"] = max_positions;
    j["n_embd"] = n_embd;
    j["n_layer"] = n_layer;
    j["n_head"] = n_head;
    j["n_inner"] = n_inner;
    j["activation_function"] = "gelu_new";
    j["layer_norm_epsilon"] = norm_eps;
    j["tie_word_embeddings"] = tie_word_embeddings;
    j["resid_pdrop"] = 0.0;
    j["embd_pdrop"] = 0.0;
    j["attn_pdrop"] = 0.0;
  } else {
    j["model_type"] = "llama";
    j["architectures"] = {"LlamaForCausalLM"};
    j["vocab_size"] = vocab_size;
    j["max_position_embeddings"] = max_positions;
    j["hidden_size"] = n_embd;
    j["num_hidden_layers"] = n_layer;
    j["num_attention_heads"] = n_head;
    j["num_key_value_heads"] = n_kv_head;
    j["head_dim"] = head_dim;
    j["intermediate_size"] = n_inner;
    j["rms_norm_eps"] = norm_eps;
    j["rope_theta"] = rope_theta;
    j["hidden_act"] = "silu";
    j["tie_word_embeddings"] = tie_word_embeddings;
    j["attention_bias"] = attention_bias;
    j["mlp_bias"] = mlp_bias;
  }
  j["initializer_range"] = initializer_range;
  j["torch_dtype"] = "float32";
  return j;
}

GptConfig TinyGpt2Config(int64_t vocab, int64_t n_embd, int64_t n_layer, int64_t n_head,
                         int64_t max_positions) {
  GptConfig c;
  c.family = Family::kGpt2;
  c.vocab_size = vocab;
  c.n_embd = n_embd;
  c.n_layer = n_layer;
  c.n_head = c.n_kv_head = n_head;
  c.head_dim = n_embd / n_head;
  c.n_inner = 4 * n_embd;
  c.max_positions = max_positions;
  return c;
}

GptConfig TinyLlamaConfig(int64_t vocab, int64_t n_embd, int64_t n_layer, int64_t n_head,
                          int64_t n_kv_head, int64_t max_positions) {
  GptConfig c;
  c.family = Family::kLlama;
  c.vocab_size = vocab;
  c.n_embd = n_embd;
  c.n_layer = n_layer;
  c.n_head = n_head;
  c.n_kv_head = n_kv_head;
  c.head_dim = n_embd / n_head;
  c.n_inner = (8 * n_embd / 3 + 15) / 16 * 16;
  c.max_positions = max_positions;
  c.norm_eps = 1e-6;
  c.tie_word_embeddings = false;
  c.attention_bias = c.mlp_bias = false;
  return c;
}

}  // namespace kiln::nn
