#include "train/trainer.h"

#include <chrono>
#include <cmath>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "autograd/api.h"
#include "base/progress.h"
#include "data/token_file.h"
#include "io/checkpoint.h"
#include "nn/model_io.h"
#include "ops/profile.h"
#include "tensor/device_memory.h"
#include "autograd/grad_mode.h"
#include "train/common.h"

namespace kiln::train {
namespace {

namespace fs = std::filesystem;

}  // namespace

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Create(const TrainConfig& config) {
  std::unique_ptr<Trainer> t(new Trainer());
  t->config_ = config;
  auto precision = ParsePrecision(config.run.precision);
  if (!precision.ok()) return Prefixed("run.precision: ", precision.status());
  t->precision_ = *precision;
  const DataConfig& d = config.data;

  auto tok = ResolveTokenizerSpec(d.tokenizer);
  if (!tok.ok()) return Prefixed("data.tokenizer: ", tok.status());
  t->tokenizer_ = std::move(*tok);
  const int64_t vocab = t->tokenizer_->vocab_size();

  auto ids = std::make_shared<std::vector<int32_t>>();
  if (!d.text.empty()) {
    for (const auto& path : d.text) {
      auto one = data::TokenizeTextFile(*t->tokenizer_, path);
      if (!one.ok()) return Prefixed("data.text: ", one.status());
      ids->insert(ids->end(), one->begin(), one->end());
    }
  } else {
    auto stream = data::ReadTokenFiles(d.tokens);
    if (!stream.ok()) return Prefixed("data.tokens: ", stream.status());
    if (stream->vocab_size > vocab) {
      return absl::InvalidArgumentError(absl::StrCat(
          "data.tokens: the token files' vocabulary (", stream->vocab_size,
          ") is larger than the tokenizer's (data.tokenizer '", d.tokenizer, "': ", vocab,
          "); give the tokenizer the files were made with"));
    }
    *ids = std::move(stream->ids);
  }
  t->tokens_ = ids;

  data::BatchLoaderOptions lo;
  lo.batch_size = d.batch_size;
  lo.seq_len = d.seq_len;
  lo.shuffle = d.shuffle;
  lo.seed = static_cast<uint64_t>(d.seed);
  lo.eos_id = t->tokenizer_->SpecialId(data::kEos);
  if (d.val_batches > 0) {
    auto loaders = data::MakeTrainValLoaders(ids, lo, d.val_batches);
    if (!loaders.ok()) {
      return Prefixed(absl::StrCat("data (", ids->size(), " tokens, data.val_batches ",
                                   d.val_batches, "): "),
                      loaders.status());
    }
    t->train_ = std::make_unique<data::BatchLoader>(std::move(loaders->train));
    t->val_ = std::make_unique<data::BatchLoader>(std::move(loaders->val));
  } else {
    auto train = data::BatchLoader::Create(ids, lo, "train");
    if (!train.ok()) return Prefixed("data: ", train.status());
    t->train_ = std::make_unique<data::BatchLoader>(std::move(*train));
  }

  auto mc = ResolveModelConfig(config.model, vocab, d.seq_len, "run config");
  if (!mc.ok()) return mc.status();
  t->model_config_ = *mc;
  t->config_.model = mc->ToJson();
  t->model_ = std::make_unique<nn::GptModel>(t->model_config_);
  t->model_->Init(static_cast<uint64_t>(config.run.seed));
  // Initialized on the host (the same bits on every device), then moved (run.device).
  auto device = UsableDevice(config.run.device);
  if (!device.ok()) return Prefixed("run.device: ", device.status());
  t->model_->To(*device);
  t->named_params_ = t->model_->NamedParameters();

  t->optimizer_ = MakeOptimizer(t->named_params_, config.optim);
  t->schedule_ = MakeSchedule(config.optim, config.run.steps);
  if (config.run.log_internals) t->recorder_ = std::make_unique<ActivationRecorder>(*t->model_);
  return t;
}

absl::StatusOr<Json> Trainer::CheckpointConfig(const std::string& dir) {
  const std::string where = dir + "/trainer_state.json";
  auto state = ReadJsonFile(where);
  if (!state.ok()) {
    if (!fs::exists(where) && fs::exists(dir + "/config.json")) {
      return absl::InvalidArgumentError(absl::StrCat(
          dir, ": no trainer_state.json: a model folder, not a training checkpoint"));
    }
    return state.status();
  }
  if (!state->is_object() || !state->contains("config") || !(*state)["config"].is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": field 'config': missing"));
  }
  return (*state)["config"];
}

absl::StatusOr<std::unique_ptr<Trainer>> Trainer::Resume(const std::string& dir,
                                                         const TrainConfig& config) {
  auto ck = io::LoadCheckpoint(dir);
  if (!ck.ok()) return ck.status();
  const std::string where = ck->loaded_from + "/trainer_state.json";
  const Json& st = ck->trainer_state;
  if (auto s = CheckTrainerState(st, ck->loaded_from, kTrainerStateFormat); !s.ok()) return s;
  auto t = Create(config);
  if (!t.ok()) return t.status();
  Trainer& tr = **t;
  std::string diff = FirstDifference(RunIdentity(st["config"]), RunIdentity(tr.ConfigJson()));
  if (!diff.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": cannot resume: the run config differs from the checkpoint's: ", diff,
        " (checkpoint vs now); only run.out_dir, log_every, eval_every, save_every, threads, "
        "stop_after and log_internals may change"));
  }
  auto step = GetField<int64_t>(st, "step", where);
  if (!step.ok()) return step.status();
  if (*step < 0 || *step > tr.config_.run.steps) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": field 'step': ", *step,
                                                   " is outside [0, run.steps]"));
  }
  auto weights = nn::FromHfLayout(tr.model_config_, ck->weights, ck->loaded_from);
  if (!weights.ok()) return weights.status();
  if (auto s = tr.model_->LoadStateDict(*weights, ck->loaded_from + "/model.safetensors");
      !s.ok()) {
    return s;
  }
  if (!st.contains("optimizer")) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": field 'optimizer': missing"));
  }
  if (auto s = tr.optimizer_->LoadState(ck->extra_state, st["optimizer"]); !s.ok()) {
    return Prefixed(where + ": ", s);
  }
  if (!st.contains("loaders") || !st["loaders"].is_object() ||
      !st["loaders"].contains("train")) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": field 'loaders.train': missing"));
  }
  if (auto s = tr.train_->RestoreCursor(st["loaders"]["train"], where + ": loaders.train");
      !s.ok()) {
    return s;
  }
  tr.step_ = *step;
  auto counters = ReadRunCounters(st, where);
  if (!counters.ok()) return counters.status();
  tr.tokens_seen_ = counters->tokens;
  tr.elapsed_before_ = tr.elapsed_now_ = counters->elapsed_s;
  tr.metrics_ = std::move(counters->metrics);
  return t;
}

Json Trainer::ConfigJson() const { return config_.ToJson(); }

nn::ModelInput Trainer::Input(const data::Batch& b, Tensor* targets) const {
  const Shape shape{b.batch_size, b.seq_len};
  const Device device = model_->device();
  *targets = FromVector(b.targets, shape, DType::kI32, device);
  return nn::ModelInput{.ids = FromVector(b.inputs, shape, DType::kI32, device),
                        .positions = FromVector(b.positions, shape, DType::kI32, device),
                        .doc_ids = FromVector(b.doc_ids, shape, DType::kI32, device)};
}

StepResult Trainer::Step() {
  const DataConfig& d = config_.data;
  StepResult r;
  r.step = step_ + 1;
  r.tokens = d.grad_accum * d.batch_size * d.seq_len;
  const bool internals = recorder_ != nullptr &&
                         (r.step == 1 || IsDue(r.step, config_.run.log_every) ||
                          r.step == config_.run.steps);
  last_internals_ = Json();
  if (internals) recorder_->Clear();

  optimizer_->ZeroGrad();
  AutocastGuard autocast(precision_);
  const double scale = 1.0 / static_cast<double>(r.tokens);
  double loss_sum = 0;
  for (int64_t micro = 0; micro < d.grad_accum; ++micro) {
    data::Batch batch = train_->Next();
    Tensor targets;
    nn::ModelInput in = Input(batch, &targets);
    if (internals && micro == 0) recorder_->SetEnabled(true);
    Tensor sum = model_->LossSum(in, targets);
    loss_sum += sum.item();
    Backward(MulScalar(sum, scale));
    if (recorder_) recorder_->SetEnabled(false);
  }
  r.loss = loss_sum * scale;

  std::vector<Tensor> grads;  // before clipping (ClipGradNorm replaces, never scales in place)
  for (const auto& [name, p] : named_params_) grads.push_back(p.grad());
  r.grad_norm = ClipGradients(named_params_, config_.optim.clip);
  r.lr = schedule_->LrAt(step_);
  optimizer_->SetLr(r.lr);
  ParamSnapshot before;
  if (!std::isfinite(r.grad_norm)) {
    r.skipped = true;
  } else {
    if (internals) before = SnapshotParams(named_params_);
    optimizer_->Step();
  }
  if (internals) {
    last_internals_ = Json{{"type", "internals"},
                           {"step", r.step},
                           {"layers", LayerNorms(named_params_, grads, before)},
                           {"activations", recorder_->ToJson()}};
  }
  optimizer_->ZeroGrad();
  step_ = r.step;
  tokens_seen_ += r.tokens;
  ops::ProfileStep();  // KILN_PROFILE=1: per-step times and shares of the step
  return r;
}

double Trainer::Evaluate() const {
  if (val_ == nullptr) return NAN;
  NoGradGuard no_grad;
  AutocastGuard autocast(precision_);
  double sum = 0;
  int64_t tokens = 0;
  for (int64_t i = 0; i < val_->batches_per_epoch(); ++i) {
    data::Batch b = val_->BatchAt(0, i);
    Tensor targets;
    nn::ModelInput in = Input(b, &targets);
    sum += model_->LossSum(in, targets).item();
    tokens += b.batch_size * b.seq_len;
  }
  return sum / static_cast<double>(tokens);
}

absl::Status Trainer::Save(const std::string& dir) const {
  Json state{{"format", kTrainerStateFormat},
             {"step", step_},
             {"optimizer", optimizer_->StateJson()},
             {"loaders", {{"train", train_->CursorJson()}}},
             {"config", ConfigJson()},
             {"rng",
              {{"init_seed", config_.run.seed},
               {"shuffle_seed", config_.data.seed},
               {"note", "no random draws after init; the shuffle order is a pure function of "
                        "the loader cursor"}}},
             {"tokens", tokens_seen_},
             {"elapsed_s", elapsed_now_},
             {"tokenizer", tokenizer_->ToJson()},
             {"metrics", metrics_}};
  if (val_) state["loaders"]["val"] = val_->CursorJson();
  return SaveModelFolder(dir, *model_, *tokenizer_, optimizer_->StateTensors(), state);
}

Json Trainer::TrainRecord(const StepResult& r, double tokens_per_s, double elapsed_s) const {
  Json j{{"type", "train"},
         {"step", r.step},
         {"loss", r.loss},
         {"lr", r.lr},
         {"tokens", tokens_seen_},
         {"tokens_per_s", tokens_per_s},
         {"grad_norm", r.grad_norm},
         {"elapsed_s", elapsed_s}};
  if (r.skipped) j["skipped"] = true;
  return j;
}

absl::Status Trainer::AppendMetric(Json record) {
  if (metrics_file_) {
    if (auto s = metrics_file_->Append(record); !s.ok()) return s;
  }
  metrics_.push_back(std::move(record));
  return absl::OkStatus();
}

absl::Status Trainer::WriteLossPlot(const std::string& path) const {
  return train::WriteLossPlot(
      metrics_,
      absl::StrCat("kiln train: ", model_config_.is_gpt2() ? "GPT-2" : "Llama", " ",
                   model_config_.n_layer, "x", model_config_.n_embd, ", ",
                   model_->NumParameters(), " params"),
      path);
}

absl::Status Trainer::Run(const RunOptions& options) {
  const RunConfig& rc = config_.run;
  const std::string out = rc.out_dir;
  const std::string ckpt = out + "/checkpoint";
  if (options.write_files) {
    std::error_code ec;
    fs::create_directories(out, ec);
    if (ec) {
      return absl::PermissionDeniedError(
          absl::StrCat("run.out_dir: cannot create folder '", out, "': ", ec.message()));
    }
    auto f = JsonlAppender::Open(out + "/metrics.jsonl", /*truncate=*/true);
    if (!f.ok()) return f.status();
    metrics_file_ = std::make_unique<JsonlAppender>(std::move(*f));
    // A resumed run rewrites the records up to its checkpoint (later ones of a killed run go).
    for (const Json& m : metrics_) {
      if (auto s = metrics_file_->Append(m); !s.ok()) return s;
    }
  }
  const int64_t target = rc.stop_after > 0 ? std::min(rc.steps, rc.stop_after) : rc.steps;
  const int64_t first = step_;
  const auto start = std::chrono::steady_clock::now();
  auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  Progress progress(first == 0 ? "train" : absl::StrCat("train (from step ", first, ")"),
                    std::max<int64_t>(target - first, 1), "tok");
  double last_log_time = 0, last_val = NAN;
  int64_t last_log_tokens = tokens_seen_, tokens_here = 0;
  while (step_ < target) {
    StepResult r = Step();
    tokens_here += r.tokens;
    elapsed_now_ = elapsed_before_ + seconds();
    if (r.step == 1 || IsDue(r.step, rc.log_every) || r.step == rc.steps) {
      double now = seconds();
      double tps = now > last_log_time
                       ? static_cast<double>(tokens_seen_ - last_log_tokens) / (now - last_log_time)
                       : 0.0;
      last_log_time = now;
      last_log_tokens = tokens_seen_;
      if (auto s = AppendMetric(TrainRecord(r, tps, elapsed_now_)); !s.ok()) return s;
      if (!last_internals_.is_null()) {
        if (auto s = AppendMetric(last_internals_); !s.ok()) return s;
      }
    }
    if (val_ && (IsDue(r.step, rc.eval_every) || r.step == rc.steps)) {
      last_val = Evaluate();
      Json v{{"type", "val"}, {"step", r.step}, {"val_loss", last_val}};
      if (auto s = AppendMetric(v); !s.ok()) return s;
    }
    if (options.progress) {
      std::vector<std::pair<std::string, double>> values{{"loss", r.loss}, {"lr", r.lr}};
      if (!std::isnan(last_val)) values.emplace_back("val", last_val);
      progress.Update(r.step - first, values, static_cast<double>(tokens_here));
    }
    if (options.on_step) options.on_step(r);
    if (options.write_files && IsDue(r.step, rc.save_every) && r.step != target) {
      if (auto s = Save(ckpt); !s.ok()) return s;
    }
  }
  if (options.progress) progress.Finish();
  elapsed_now_ = elapsed_before_ + seconds();
  if (options.write_files) {
    if (step_ > first || !fs::exists(ckpt)) {
      if (auto s = Save(ckpt); !s.ok()) return s;
    }
    if (auto s = WriteLossPlot(out + "/loss.svg"); !s.ok()) return s;
  }
  metrics_file_.reset();
  return absl::OkStatus();
}

}  // namespace kiln::train
