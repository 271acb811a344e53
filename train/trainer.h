// The pretraining loop behind `kiln train`: a GPT-2 / Llama model (nn::GptModel) trained on a
// token stream (text files tokenized whole, or token shards) with AdamW or SGD, an LR schedule,
// global-norm clipping and gradient accumulation over micro-batches, a held-out validation loss,
// metrics in JSONL, a loss plot, and checkpoints a run resumes from bit for bit.
//
// One optimizer step: grad_accum micro-batches of batch_size x seq_len tokens from the train
// loader; each adds the gradient of (sum of its token losses) / (tokens of the whole step), so
// the step's gradient is that of the mean loss over the global batch. The logged loss is that
// mean (the per-micro-batch sums added in double, in order). Accumulating k micro-batches gives
// the update of one k-times larger batch up to rounding (the sums run in another order), not its
// bits; the same config always gives the same bits.
//
// Checkpoint folder (io::SaveCheckpoint, crash-safe, Hugging Face layout):
//   model.safetensors + config.json   the model (opens with transformers; nn::LoadModel)
//   optimizer.safetensors             optimizer state tensors
//   trainer_state.json                {format, step, optimizer (StateJson), loaders (cursors),
//                                      config (the run config), rng, tokens, elapsed_s, metrics}
//   kiln_tokenizer.json               the tokenizer (written right after the folder)
// Nothing in a run draws random numbers after initialization (no dropout; the shuffle order is a
// pure function of the loader cursor), so the cursors and step are the whole RNG state.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/json.h"
#include "data/batch_loader.h"
#include "data/tokenizer.h"
#include "nn/gpt.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"
#include "train/internals.h"
#include "train/train_config.h"

namespace kiln::train {

inline constexpr const char* kTrainerStateFormat = "kiln-train-1";

// What one optimizer step did.
struct StepResult {
  int64_t step = 0;  // steps completed after this one (1 for the first)
  double loss = 0;   // mean token loss of the global batch
  double lr = 0;
  double grad_norm = 0;  // before clipping
  bool skipped = false;  // non-finite gradient norm: no update was made
  int64_t tokens = 0;    // tokens of this step
};

class Trainer {
 public:
  // A fresh run: reads and tokenizes the data, builds and initializes the model (run.seed), the
  // optimizer and the loaders. Data and model errors come back as a Status naming the file/field.
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(const TrainConfig& config);
  // Continues the run saved in checkpoint folder `dir`. `config` must have the checkpoint's
  // identity (RunIdentity): a difference is an error naming the first differing field; fields
  // outside the identity (out_dir, log/eval/save intervals, threads, stop_after) may change.
  static absl::StatusOr<std::unique_ptr<Trainer>> Resume(const std::string& dir,
                                                         const TrainConfig& config);
  // The run config stored in a checkpoint folder's trainer_state.json.
  static absl::StatusOr<Json> CheckpointConfig(const std::string& dir);

  // One optimizer step.
  StepResult Step();
  // Mean token loss over the validation batches (no graph, no state change); NaN without them.
  double Evaluate() const;

  // Writes a checkpoint folder (see above).
  absl::Status Save(const std::string& dir) const;

  struct RunOptions {
    bool progress = true;  // live progress line on stdout
    bool write_files = true;  // metrics.jsonl, checkpoints, loss.svg under run.out_dir
    // Called after each step's records are made (tests use it to stop or inspect).
    std::function<void(const StepResult&)> on_step;
  };
  // Trains from the current step to run.steps (or run.stop_after), logging every log_every steps,
  // evaluating every eval_every steps and at the end, saving every save_every steps and at the
  // end to out_dir/checkpoint, and writing out_dir/loss.svg at the end.
  absl::Status Run(const RunOptions& options);

  nn::GptModel& model() { return *model_; }
  const nn::GptModel& model() const { return *model_; }
  optim::Optimizer& optimizer() { return *optimizer_; }
  const data::Tokenizer& tokenizer() const { return *tokenizer_; }
  const TrainConfig& config() const { return config_; }
  // The run config with the model resolved to its Hugging Face config object.
  Json ConfigJson() const;
  int64_t step() const { return step_; }
  // Every metrics record so far ({"type": "train" | "val" | "internals", "step", ...}), the ones
  // restored from a checkpoint included.
  const std::vector<Json>& metrics() const { return metrics_; }
  const data::BatchLoader& train_loader() const { return *train_; }
  bool has_validation() const { return val_ != nullptr; }
  ActivationRecorder* recorder() { return recorder_.get(); }

  // The step's records: the train record, and (log_internals) the internals record of this step.
  Json TrainRecord(const StepResult& r, double tokens_per_s, double elapsed_s) const;

 private:
  Trainer() = default;
  nn::ModelInput Input(const data::Batch& b, Tensor* targets) const;
  absl::Status WriteLossPlot(const std::string& path) const;
  absl::Status AppendMetric(Json record);

  TrainConfig config_;
  DType precision_ = DType::kF32;  // run.precision, parsed once (the GEMM operands' dtype)
  nn::GptConfig model_config_;
  std::unique_ptr<data::Tokenizer> tokenizer_;
  std::shared_ptr<const std::vector<int32_t>> tokens_;
  std::unique_ptr<data::BatchLoader> train_, val_;
  std::unique_ptr<nn::GptModel> model_;
  std::unique_ptr<optim::Optimizer> optimizer_;
  std::unique_ptr<optim::LrSchedule> schedule_;
  std::unique_ptr<ActivationRecorder> recorder_;
  std::vector<std::pair<std::string, Tensor>> named_params_;
  int64_t step_ = 0;
  int64_t tokens_seen_ = 0;
  double elapsed_before_ = 0;  // seconds of training before this process (restored)
  double elapsed_now_ = 0;     // training seconds up to the last step (saved in checkpoints)
  std::vector<Json> metrics_;
  Json last_internals_;  // set by Step() when internals are logged at that step
  std::unique_ptr<JsonlAppender> metrics_file_;
};

}  // namespace kiln::train
