#include "train/common.h"

#include "absl/strings/str_cat.h"
#include "io/checkpoint.h"
#include "nn/model_io.h"
#include "optim/adamw.h"
#include "optim/clip.h"
#include "optim/sgd.h"
#include "report/plot.h"

namespace kiln::train {

absl::Status SaveModelFolder(const std::string& dir, const nn::GptModel& model,
                             const data::Tokenizer& tokenizer,
                             const std::map<std::string, Tensor>& optimizer_state,
                             const Json& trainer_state) {
  const nn::GptConfig& mc = model.config();
  // Tensors on a device are copied back to the host first (the writers read host memory).
  auto on_host = [](std::map<std::string, Tensor> m) {
    for (auto& [name, t] : m) t = t.To(Device::CPU());
    return m;
  };
  // The tokenizer goes into the same atomic folder swap as the weights.
  return io::SaveCheckpoint(dir, on_host(nn::ToHfLayout(mc, model.StateDict())), mc.ToJson(),
                            on_host(optimizer_state), trainer_state,
                            {{"kiln_tokenizer.json", tokenizer.ToJson().dump(2) + "\n"}});
}

absl::StatusOr<DType> ParsePrecision(const std::string& name) {
  if (name == "f32") return DType::kF32;
  if (name == "bf16") return DType::kBF16;
  return absl::InvalidArgumentError(
      absl::StrCat("expected f32 or bf16 (bf16: mixed precision), got '", name, "'"));
}

absl::Status Prefixed(const std::string& prefix, const absl::Status& s) {
  return absl::Status(s.code(), absl::StrCat(prefix, s.message()));
}

std::unique_ptr<optim::Optimizer> MakeOptimizer(
    const std::vector<std::pair<std::string, Tensor>>& named, const OptimConfig& o) {
  auto groups = optim::SplitDecayGroups(named, {.decay_embeddings = o.decay_embeddings});
  if (o.name == "sgd") {
    return std::make_unique<optim::Sgd>(
        groups, optim::SgdConfig{.lr = o.lr, .momentum = o.momentum,
                                 .weight_decay = o.weight_decay});
  }
  return std::make_unique<optim::AdamW>(
      groups, optim::AdamWConfig{.lr = o.lr, .beta1 = o.beta1, .beta2 = o.beta2, .eps = o.eps,
                                 .weight_decay = o.weight_decay});
}

std::unique_ptr<optim::LrSchedule> MakeSchedule(const OptimConfig& o, int64_t total_steps) {
  optim::Decay decay = optim::Decay::kConstant;
  if (o.schedule == "linear") decay = optim::Decay::kLinear;
  if (o.schedule == "cosine") decay = optim::Decay::kCosine;
  return std::make_unique<optim::LrSchedule>(optim::ScheduleConfig{
      .base_lr = o.lr,
      .decay = decay,
      .total_steps = total_steps,
      .warmup_steps = o.warmup_steps,
      .warmup_ratio = o.warmup_ratio,
      .min_lr = o.min_lr,
      .min_ratio = o.min_ratio});
}

double ClipGradients(const std::vector<std::pair<std::string, Tensor>>& named, double clip) {
  std::vector<Tensor> params;
  params.reserve(named.size());
  for (const auto& [name, p] : named) params.push_back(p);
  return clip > 0 ? optim::ClipGradNorm(params, clip) : optim::GradNorm(params);
}

absl::StatusOr<RunCounters> ReadRunCounters(const Json& st, const std::string& where) {
  RunCounters c;
  auto tokens = GetFieldOr<int64_t>(st, "tokens", where, 0);
  if (!tokens.ok()) return tokens.status();
  c.tokens = *tokens;
  auto elapsed = GetFieldOr<double>(st, "elapsed_s", where, 0.0);
  if (!elapsed.ok()) return elapsed.status();
  c.elapsed_s = *elapsed;
  if (st.contains("metrics")) {
    if (!st["metrics"].is_array()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": field 'metrics': expected a list"));
    }
    for (const Json& m : st["metrics"]) c.metrics.push_back(m);
  }
  return c;
}

absl::Status CheckTrainerState(const Json& st, const std::string& folder, const char* format) {
  const std::string where = folder + "/trainer_state.json";
  if (!st.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(folder, ": no trainer_state.json: a model folder, not a training checkpoint"));
  }
  auto f = GetField<std::string>(st, "format", where);
  if (!f.ok()) return f.status();
  if (*f != format) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": field 'format': expected \"", format,
                                                   "\", got \"", *f, "\""));
  }
  if (!st.contains("config") || !st["config"].is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": field 'config': missing"));
  }
  return absl::OkStatus();
}

absl::Status WriteLossPlot(const std::vector<Json>& metrics, const std::string& title,
                           const std::string& path) {
  report::Series train{.label = "train loss"}, val{.label = "validation loss", .markers = true};
  for (const Json& m : metrics) {
    if (!m.is_object() || !m.contains("type") || !m.contains("step")) continue;
    if (m["type"] == "train" && m.contains("loss") && m["loss"].is_number()) {
      train.x.push_back(m["step"].get<double>());
      train.y.push_back(m["loss"].get<double>());
    } else if (m["type"] == "val" && m.contains("val_loss") && m["val_loss"].is_number()) {
      val.x.push_back(m["step"].get<double>());
      val.y.push_back(m["val_loss"].get<double>());
    }
  }
  report::PlotOptions po;
  po.title = title;
  po.x_label = "step";
  po.y_label = "loss (nats/token)";
  std::vector<report::Series> series{train};
  if (!val.x.empty()) series.push_back(val);
  return report::WriteSvg(path, report::LinePlotSvg(series, po));
}

}  // namespace kiln::train
