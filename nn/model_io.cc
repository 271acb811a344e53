#include "nn/model_io.h"

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "autograd/api.h"
#include "io/safetensors.h"

namespace kiln::nn {
namespace {

bool IsConv1D(const GptConfig& config, const std::string& name) {
  if (!config.is_gpt2()) return false;
  return absl::EndsWith(name, ".attn.c_attn.weight") ||
         absl::EndsWith(name, ".attn.c_proj.weight") || absl::EndsWith(name, ".mlp.c_fc.weight") ||
         absl::EndsWith(name, ".mlp.c_proj.weight");
}

// The shape transformers stores a Conv1D weight in: (in, out).
Shape Conv1DShape(const GptConfig& config, const std::string& name) {
  const int64_t c = config.n_embd, h = config.n_inner;
  if (absl::EndsWith(name, ".attn.c_attn.weight")) return {c, 3 * c};
  if (absl::EndsWith(name, ".attn.c_proj.weight")) return {c, c};
  if (absl::EndsWith(name, ".mlp.c_fc.weight")) return {c, h};
  return {h, c};  // .mlp.c_proj.weight
}

Tensor TransposedCopy(const Tensor& t) {
  NoGradGuard no_grad;
  return ops::Contiguous(ops::Transpose(t, 0, 1));
}

}  // namespace

std::map<std::string, Tensor> ToHfLayout(const GptConfig& config,
                                         const std::map<std::string, Tensor>& state) {
  std::map<std::string, Tensor> out;
  for (const auto& [name, t] : state) {
    out[name] = IsConv1D(config, name) ? TransposedCopy(t) : t.Detach();
  }
  return out;
}

absl::StatusOr<std::map<std::string, Tensor>> FromHfLayout(const GptConfig& config,
                                                           std::map<std::string, Tensor> tensors,
                                                           const std::string& where) {
  std::map<std::string, Tensor> out;
  Tensor tied_head;  // an lm_head.weight in a tied model's file: must equal the embedding
  for (auto& [raw_name, t] : tensors) {
    std::string name = raw_name;
    if (config.is_gpt2()) {
      if (absl::StartsWith(name, "transformer.")) name = name.substr(12);
      if (absl::EndsWith(name, ".attn.bias") || absl::EndsWith(name, ".attn.masked_bias")) {
        // Old GPT-2 files store the causal mask as a buffer (a (1, 1, n_pos, n_pos) tensor).
        if (t.dim() == 4 || t.dim() == 0) continue;
      }
    }
    if (config.tie_word_embeddings && name == "lm_head.weight") {
      tied_head = t;
      continue;
    }
    if (IsConv1D(config, name)) {
      // Checked here, in the file's (in, out) layout, so the error shows the shapes as stored.
      const Shape want = Conv1DShape(config, name);
      if (t.shape() != want) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ": tensor '", raw_name, "' has shape ", ShapeToString(t.shape()),
            " but the config needs ", ShapeToString(want), " (Conv1D layout: (in, out))"));
      }
      t = TransposedCopy(t);
    }
    if (out.count(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": tensor '", name, "' appears twice (with and without prefix)"));
    }
    out[name] = t;
  }
  if (tied_head.defined()) {
    const std::string emb = config.is_gpt2() ? "wte.weight" : "model.embed_tokens.weight";
    auto it = out.find(emb);
    const bool same = it != out.end() && it->second.shape() == tied_head.shape() &&
                      it->second.ToVector<double>() == tied_head.ToVector<double>();
    if (!same) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": tensor 'lm_head.weight' differs from '", emb,
          "' but config.json says tie_word_embeddings: true (the head would be silently replaced)"));
    }
  }
  return out;
}

absl::StatusOr<std::unique_ptr<GptModel>> LoadModel(const std::string& dir) {
  const std::string config_path = dir + "/config.json";
  auto j = ReadJsonFile(config_path);
  if (!j.ok()) return j.status();
  auto config = GptConfig::FromJson(*j, config_path);
  if (!config.ok()) return config.status();
  const std::string weights_path = dir + "/model.safetensors";
  auto file = io::ReadSafetensors(weights_path);
  if (!file.ok()) return file.status();
  auto state = FromHfLayout(*config, std::move(file->tensors), weights_path);
  if (!state.ok()) return state.status();
  auto model = std::make_unique<GptModel>(*config);
  absl::Status st = model->LoadStateDict(*state, weights_path);
  if (!st.ok()) return st;
  return model;
}

absl::Status SaveModel(const std::string& dir, const GptModel& model) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat(dir, ": cannot create folder: ", ec.message()));
  absl::Status st = io::WriteSafetensors(dir + "/model.safetensors",
                                         ToHfLayout(model.config(), model.StateDict()),
                                         {{"format", "pt"}});
  if (!st.ok()) return st;
  return WriteJsonFile(dir + "/config.json", model.config().ToJson());
}

}  // namespace kiln::nn
