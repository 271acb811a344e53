#include "train/sft_trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "autograd/api.h"
#include "tensor/device_memory.h"
#include "base/progress.h"
#include "base/rng.h"
#include "io/checkpoint.h"
#include "nn/model_io.h"
#include "autograd/grad_mode.h"
#include "train/common.h"

namespace kiln::train {
namespace {

namespace fs = std::filesystem;

// A seeded permutation of 0..n-1 (Fisher-Yates on a Philox stream).
std::vector<int64_t> Permutation(int64_t n, uint64_t seed, uint64_t stream) {
  std::vector<int64_t> p(n);
  for (int64_t i = 0; i < n; ++i) p[i] = i;
  RngStream rng(seed, stream << 40);
  for (int64_t i = n - 1; i > 0; --i) {
    std::swap(p[i], p[rng.UniformInt(static_cast<uint64_t>(i + 1))]);
  }
  return p;
}

constexpr uint64_t kValSplitStream = 0xFFFFF;  // epochs use streams 0, 1, ...

}  // namespace

absl::StatusOr<std::unique_ptr<SftTrainer>> SftTrainer::Create(const SftConfig& config) {
  std::unique_ptr<SftTrainer> t(new SftTrainer());
  t->config_ = config;
  auto precision = ParsePrecision(config.run.precision);
  if (!precision.ok()) return Prefixed("run.precision: ", precision.status());
  t->precision_ = *precision;
  const SftDataConfig& d = config.data;
  auto norm = ParseLossNorm(d.normalization);
  if (!norm.ok()) return Prefixed("data.normalization: ", norm.status());
  t->norm_ = *norm;

  auto model = nn::LoadModel(config.model);
  if (!model.ok()) return Prefixed("model: ", model.status());
  t->model_ = std::move(*model);
  const nn::GptConfig& mc = t->model_->config();

  const std::string tok_spec =
      d.tokenizer.empty() ? config.model + "/kiln_tokenizer.json" : d.tokenizer;
  if (d.tokenizer.empty() && !fs::exists(tok_spec)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model: ", config.model, " has no kiln_tokenizer.json; name one (data.tokenizer, "
        "--tokenizer: byte, gpt2 or a tokenizer file)"));
  }
  auto tok = data::ResolveTokenizer(tok_spec);
  if (!tok.ok()) return Prefixed("data.tokenizer: ", tok.status());
  t->tokenizer_ = std::move(*tok);
  for (const char* special : {data::kBos, data::kEos, data::kUser, data::kAssistant,
                              data::kEndOfTurn, data::kPad}) {
    if (!t->tokenizer_->SpecialId(special)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "data.tokenizer: ", tok_spec, " lacks the chat template's special token ", special));
    }
  }
  if (t->tokenizer_->vocab_size() > mc.vocab_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model: ", config.model, ": vocab_size ", mc.vocab_size,
        " is smaller than the tokenizer's vocabulary (", t->tokenizer_->vocab_size(), ")"));
  }
  if (d.max_len > mc.max_positions) {
    return absl::InvalidArgumentError(
        absl::StrCat("data.max_len: ", d.max_len, " is more than the model's ", mc.max_positions,
                     " positions (", config.model, "/config.json)"));
  }

  auto records = ReadSftJsonl(d.train);
  if (!records.ok()) return Prefixed("data.train: ", records.status());
  std::vector<SftRecord> val_records;
  if (!d.val.empty()) {
    auto v = ReadSftJsonl(d.val);
    if (!v.ok()) return Prefixed("data.val: ", v.status());
    val_records = std::move(*v);
  } else if (d.val_fraction > 0) {
    const int64_t n = static_cast<int64_t>(records->size());
    const int64_t n_val = std::max<int64_t>(
        1, static_cast<int64_t>(std::llround(d.val_fraction * static_cast<double>(n))));
    if (n_val >= n) {
      return absl::InvalidArgumentError(absl::StrCat(
          "data.val_fraction: ", d.val_fraction, " of ", n, " examples leaves none to train on"));
    }
    std::vector<int64_t> perm = Permutation(n, static_cast<uint64_t>(d.seed), kValSplitStream);
    std::vector<bool> is_val(n, false);
    for (int64_t i = 0; i < n_val; ++i) is_val[perm[i]] = true;
    std::vector<SftRecord> train_records;
    for (int64_t i = 0; i < n; ++i) {
      (is_val[i] ? val_records : train_records).push_back((*records)[i]);
    }
    *records = std::move(train_records);
  }
  const int max_len = static_cast<int>(d.max_len);
  auto train = TokenizeSft(*records, *t->tokenizer_, max_len, d.train);
  if (!train.ok()) return Prefixed("data.train: ", train.status());
  t->train_ = std::move(*train);
  if (!val_records.empty()) {
    auto val = TokenizeSft(val_records, *t->tokenizer_, max_len, d.val.empty() ? d.train : d.val);
    if (!val.ok()) return Prefixed("data.val: ", val.status());
    t->val_ = std::move(*val);
  }
  if (t->train_.supervised_share() < d.min_supervised_share) {
    return absl::InvalidArgumentError(absl::StrCat(
        "data.train: ", d.train, ": only ", t->train_.supervised, " of ", t->train_.tokens,
        " tokens (", t->train_.supervised_share() * 100,
        "%) are response tokens the loss sees, below data.min_supervised_share ",
        d.min_supervised_share, " (responses empty or cut off? a prompt-only template?)"));
  }
  const int64_t n_train = static_cast<int64_t>(t->train_.examples.size());
  t->steps_per_epoch_ = n_train / d.global_batch;
  if (t->steps_per_epoch_ == 0) {
    return absl::InvalidArgumentError(absl::StrCat("data.train: ", d.train, ": ", n_train,
                                                   " training examples are fewer than one "
                                                   "global batch (data.global_batch ",
                                                   d.global_batch, ")"));
  }
  t->total_steps_ = config.run.steps > 0 ? config.run.steps
                                         : config.run.epochs * t->steps_per_epoch_;
  if (config.optim.warmup_steps > t->total_steps_) {
    return absl::InvalidArgumentError(absl::StrCat("optim.warmup_steps: ",
                                                   config.optim.warmup_steps, " is more than the ",
                                                   t->total_steps_, " steps of the run"));
  }
  // A checkpoint step the run never reaches would be silently missing from the sweep.
  if (!config.run.save_steps.empty() && config.run.save_steps.back() > t->total_steps_) {
    return absl::InvalidArgumentError(absl::StrCat("run.save_steps: step ",
                                                   config.run.save_steps.back(),
                                                   " is beyond the ", t->total_steps_,
                                                   " steps of the run"));
  }
  auto device = UsableDevice(config.run.device);
  if (!device.ok()) return Prefixed("run.device: ", device.status());
  t->model_->To(*device);
  t->named_params_ = t->model_->NamedParameters();
  t->optimizer_ = MakeOptimizer(t->named_params_, config.optim);
  t->schedule_ = MakeSchedule(config.optim, t->total_steps_);
  return t;
}

absl::StatusOr<Json> SftTrainer::CheckpointConfig(const std::string& dir) {
  auto ck = io::LoadCheckpoint(dir);
  if (!ck.ok()) return ck.status();
  const std::string where = ck->loaded_from + "/trainer_state.json";
  const Json& st = ck->trainer_state;
  if (!st.is_object() || !st.contains("config") || !st["config"].is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": no SFT run config (not a kiln sft checkpoint folder)"));
  }
  return st["config"];
}

absl::StatusOr<std::unique_ptr<SftTrainer>> SftTrainer::Resume(const std::string& dir,
                                                               const SftConfig& config) {
  auto ck = io::LoadCheckpoint(dir);
  if (!ck.ok()) return ck.status();
  const std::string where = ck->loaded_from + "/trainer_state.json";
  const Json& st = ck->trainer_state;
  if (auto s = CheckTrainerState(st, ck->loaded_from, kSftStateFormat); !s.ok()) return s;
  auto t = Create(config);
  if (!t.ok()) return t.status();
  SftTrainer& tr = **t;
  const std::string diff =
      FirstDifference(SftRunIdentity(st["config"]), SftRunIdentity(tr.config_.ToJson()));
  if (!diff.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": cannot resume: the run config differs from the checkpoint's: ", diff,
        " (checkpoint vs now); only run.out_dir, stop_after, save_steps, save_every, log_every "
        "and threads may change"));
  }
  auto step = GetField<int64_t>(st, "step", where);
  if (!step.ok()) return step.status();
  if (*step < 0 || *step > tr.total_steps_) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": field 'step': ", *step, " is outside [0, ", tr.total_steps_, "]"));
  }
  const nn::GptConfig& mc = tr.model_->config();
  auto ck_config = nn::GptConfig::FromJson(ck->config, ck->loaded_from + "/config.json");
  if (!ck_config.ok()) return ck_config.status();
  if (ck_config->ToJson() != mc.ToJson()) {
    return absl::InvalidArgumentError(absl::StrCat(
        ck->loaded_from, "/config.json: the checkpoint's model config differs from ",
        tr.config_.model, "/config.json: ", FirstDifference(ck_config->ToJson(), mc.ToJson())));
  }
  auto weights = nn::FromHfLayout(mc, ck->weights, ck->loaded_from);
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
  tr.step_ = *step;
  auto counters = ReadRunCounters(st, where);
  if (!counters.ok()) return counters.status();
  tr.tokens_seen_ = counters->tokens;
  tr.elapsed_before_ = tr.elapsed_now_ = counters->elapsed_s;
  tr.metrics_ = std::move(counters->metrics);
  return t;
}

std::vector<const data::TokenizedExample*> SftTrainer::BatchOf(int64_t step) const {
  const int64_t g = config_.data.global_batch;
  const int64_t epoch = step / steps_per_epoch_, k = step % steps_per_epoch_;
  const int64_t n = static_cast<int64_t>(train_.examples.size());
  if (order_epoch_ != epoch) {
    if (config_.data.shuffle) {
      order_ = Permutation(n, static_cast<uint64_t>(config_.data.seed), epoch);
    } else {
      order_.resize(n);
      for (int64_t i = 0; i < n; ++i) order_[i] = i;
    }
    order_epoch_ = epoch;
  }
  std::vector<const data::TokenizedExample*> batch;
  batch.reserve(g);
  for (int64_t i = k * g; i < (k + 1) * g; ++i) batch.push_back(&train_.examples[order_[i]]);
  return batch;
}

GlobalBatchOptions SftTrainer::BatchOptions(bool backward) const {
  return GlobalBatchOptions{.norm = norm_,
                            .micro_batch = config_.data.micro_batch,
                            .pack = config_.data.pack,
                            .max_len = static_cast<int>(config_.data.max_len),
                            .pad_id = tokenizer_->pad_id(),
                            .backward = backward};
}

SftStepResult SftTrainer::Step() {
  SftStepResult r;
  r.step = step_ + 1;
  optimizer_->ZeroGrad();
  {
    AutocastGuard autocast(precision_);
    r.batch = RunGlobalBatch(*model_, BatchOf(step_), BatchOptions(true));
  }
  r.loss = r.batch.loss;
  r.grad_norm = ClipGradients(named_params_, config_.optim.clip);
  r.lr = schedule_->LrAt(step_);
  optimizer_->SetLr(r.lr);
  if (!std::isfinite(r.grad_norm)) {
    r.skipped = true;
  } else {
    optimizer_->Step();
  }
  optimizer_->ZeroGrad();
  step_ = r.step;
  tokens_seen_ += r.batch.real_tokens;
  return r;
}

double SftTrainer::Evaluate() const {
  if (val_.examples.empty()) return NAN;
  // Token mean over the whole validation set: sum-normalized micro-batches, divided once.
  AutocastGuard autocast(precision_);
  GlobalBatchOptions o = BatchOptions(false);
  o.norm = LossNorm::kSum;
  const int64_t n = static_cast<int64_t>(val_.examples.size());
  double sum = 0;
  int64_t response = 0;
  for (int64_t start = 0; start < n; start += o.micro_batch) {
    std::vector<const data::TokenizedExample*> part;
    for (int64_t i = start; i < std::min(n, start + o.micro_batch); ++i) {
      part.push_back(&val_.examples[i]);
    }
    GlobalBatchOptions po = o;
    po.micro_batch = static_cast<int64_t>(part.size());
    GlobalBatchResult r = RunGlobalBatch(*model_, part, po);
    sum += r.loss;
    response += r.response_tokens;
  }
  return response > 0 ? sum / static_cast<double>(response) : NAN;
}

absl::Status SftTrainer::SaveModelAt(const std::string& dir) const {
  return SaveModelFolder(dir, *model_, *tokenizer_);
}

absl::Status SftTrainer::SaveState(const std::string& dir) const {
  Json state{{"format", kSftStateFormat},
             {"step", step_},
             {"total_steps", total_steps_},
             {"optimizer", optimizer_->StateJson()},
             {"config", config_.ToJson()},
             {"data", {{"train", train_.StatsJson()}, {"val", val_.StatsJson()}}},
             {"rng",
              {{"shuffle_seed", config_.data.seed},
               {"note", "no random draws but the data order, a pure function of (seed, step)"}}},
             {"tokens", tokens_seen_},
             {"elapsed_s", elapsed_now_},
             {"metrics", metrics_}};
  return SaveModelFolder(dir, *model_, *tokenizer_, optimizer_->StateTensors(), state);
}

bool SftTrainer::IsSaveStep(int64_t n) const {
  const auto& s = config_.run.save_steps;
  return std::binary_search(s.begin(), s.end(), n) || IsDue(n, config_.run.save_every) ||
         n == total_steps_;
}

absl::Status SftTrainer::AppendMetric(Json record) {
  if (metrics_file_) {
    if (auto s = metrics_file_->Append(record); !s.ok()) return s;
  }
  metrics_.push_back(std::move(record));
  return absl::OkStatus();
}

// Validation loss (a "val" record), the model folder checkpoints/step_<N> when `model_folder`,
// and the resumable checkpoint/.
absl::Status SftTrainer::Checkpoint(int64_t step, bool model_folder) {
  const std::string& out = config_.run.out_dir;
  if (model_folder && has_validation()) {
    if (auto s = AppendMetric(Json{{"type", "val"}, {"step", step}, {"val_loss", Evaluate()}});
        !s.ok()) {
      return s;
    }
  }
  if (model_folder) {
    if (auto s = SaveModelAt(absl::StrCat(out, "/checkpoints/step_", step)); !s.ok()) return s;
  }
  return SaveState(out + "/checkpoint");
}

absl::Status SftTrainer::Run(const RunOptions& options) {
  const SftRunConfig& rc = config_.run;
  const std::string& out = rc.out_dir;
  std::error_code ec;
  fs::create_directories(out + "/checkpoints", ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat("run.out_dir: cannot create folder '", out, "': ", ec.message()));
  }
  if (auto s = WriteJsonFile(out + "/sft_config.json", config_.ToJson()); !s.ok()) return s;
  auto f = JsonlAppender::Open(out + "/metrics.jsonl", /*truncate=*/true);
  if (!f.ok()) return f.status();
  metrics_file_ = std::make_unique<JsonlAppender>(std::move(*f));
  // A resumed run rewrites the records up to its checkpoint (later ones of a killed run go).
  for (const Json& m : metrics_) {
    if (auto s = metrics_file_->Append(m); !s.ok()) return s;
  }
  const int64_t target =
      rc.stop_after > 0 ? std::min(total_steps_, rc.stop_after) : total_steps_;
  const int64_t first = step_;
  if (step_ == 0 && IsSaveStep(0)) {
    if (auto s = Checkpoint(0, /*model_folder=*/true); !s.ok()) return s;
  }
  const auto start = std::chrono::steady_clock::now();
  auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  Progress progress(first == 0 ? "sft" : absl::StrCat("sft (from step ", first, ")"),
                    std::max<int64_t>(target - first, 1), "tok");
  double last_time = 0;
  int64_t tokens_here = 0;
  bool saved_last = step_ == 0 && IsSaveStep(0);
  while (step_ < target) {
    SftStepResult r = Step();
    tokens_here += r.batch.real_tokens;
    const double now = seconds();
    elapsed_now_ = elapsed_before_ + now;
    const double tps =
        now > last_time ? static_cast<double>(r.batch.real_tokens) / (now - last_time) : 0.0;
    last_time = now;
    Json rec{{"type", "train"},
             {"step", r.step},
             {"loss", r.loss},
             {"lr", r.lr},
             {"grad_norm", r.grad_norm},
             {"tokens", r.batch.real_tokens},
             {"response_tokens", r.batch.response_tokens},
             {"computed_tokens", r.batch.computed_tokens},
             {"tokens_per_s", tps},
             {"elapsed_s", elapsed_now_}};
    if (r.skipped) rec["skipped"] = true;
    if (auto s = AppendMetric(std::move(rec)); !s.ok()) return s;
    if (options.progress && (r.step == first + 1 || IsDue(r.step, rc.log_every) ||
                             r.step == target)) {
      progress.Update(r.step - first,
                      {{"loss", r.loss}, {"lr", r.lr}, {"gnorm", r.grad_norm}},
                      static_cast<double>(tokens_here));
    }
    if (options.on_step) options.on_step(r);
    saved_last = IsSaveStep(r.step);
    if (saved_last) {
      if (auto s = Checkpoint(r.step, /*model_folder=*/true); !s.ok()) return s;
    }
  }
  if (options.progress) progress.Finish();
  elapsed_now_ = elapsed_before_ + seconds();
  if (!saved_last || !fs::exists(out + "/checkpoint")) {
    if (auto s = Checkpoint(step_, /*model_folder=*/false); !s.ok()) return s;
  }
  const nn::GptConfig& mc = model_->config();
  if (auto s = WriteLossPlot(metrics_,
                             absl::StrCat("kiln sft: ", mc.is_gpt2() ? "GPT-2" : "Llama", " ",
                                          mc.n_layer, "x", mc.n_embd, ", ",
                                          LossNormName(norm_), "-mean loss"),
                             out + "/loss.svg");
      !s.ok()) {
    return s;
  }
  metrics_file_.reset();
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<SftTrainer>> RunSftTrainer(const SftConfig& config,
                                                          const std::string& resume_dir,
                                                          bool progress) {
  auto t = resume_dir.empty() ? SftTrainer::Create(config) : SftTrainer::Resume(resume_dir, config);
  if (!t.ok()) return t.status();
  if (auto s = (*t)->Run({.progress = progress}); !s.ok()) return s;
  return t;
}

absl::Status RunSft(const SftConfig& config) {
  return RunSftTrainer(config, "", /*progress=*/true).status();
}

}  // namespace kiln::train
