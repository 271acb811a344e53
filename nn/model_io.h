// Model folders in Hugging Face layout: model.safetensors + config.json (+ optional
// kiln_tokenizer.json), readable by transformers and written by it.
//   - GPT-2's Hugging Face weights use Conv1D, stored (in, out): c_attn, attn.c_proj, c_fc and
//     mlp.c_proj are transposed to kiln's (out, in) on load and back on save, so kiln's files are
//     byte-compatible with transformers' GPT2LMHeadModel.
//   - Names with the "transformer." prefix (GPT2LMHeadModel.save_pretrained) are accepted, as are
//     the causal-mask buffers old GPT-2 files carry (h.<i>.attn.bias / masked_bias: dropped) and
//     a tied lm_head.weight (dropped).
//   - f32, f16, bf16 and f64 files load (converted to f32).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "nn/gpt.h"

namespace kiln::nn {

// kiln state dict <-> the tensors of a Hugging Face file (names and layouts as above).
std::map<std::string, Tensor> ToHfLayout(const GptConfig& config,
                                         const std::map<std::string, Tensor>& state);
absl::StatusOr<std::map<std::string, Tensor>> FromHfLayout(
    const GptConfig& config, std::map<std::string, Tensor> tensors, const std::string& where);

// Builds the model from dir/config.json and loads dir/model.safetensors. Every mismatch (missing
// or unexpected tensor, shape or dtype that disagrees with the config, a config field of the
// wrong type) is a one-line error naming the folder and the tensor or field.
absl::StatusOr<std::unique_ptr<GptModel>> LoadModel(const std::string& dir);

// Writes dir/model.safetensors and dir/config.json (atomically, each file).
absl::Status SaveModel(const std::string& dir, const GptModel& model);

}  // namespace kiln::nn
