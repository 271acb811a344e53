// The SFT loop behind `kiln sft`: fine-tunes a model folder on a chat JSONL (train/sft_data.h)
// with the global-batch loss of train/sft_batch.h, AdamW/SGD + warmup + cosine/constant/linear
// schedule + clipping (shared with `kiln train`, train/common.h), checkpoints at listed steps and
// every N, held-out validation at each checkpoint, metrics.jsonl (one record per step) and exact
// resume.
//
// Output layout under run.out_dir:
//   checkpoints/step_<N>/   model.safetensors, config.json, kiln_tokenizer.json (nn::LoadModel),
//                           one per saved step (step_0 is the base model), written atomically
//   checkpoint/             the latest resumable state: the model files + optimizer.safetensors +
//                           trainer_state.json {format, step, optimizer, config, data, metrics...}
//   metrics.jsonl           {"type": "train", "step", "loss", "lr", "grad_norm", "tokens",
//                           "response_tokens", "computed_tokens", "tokens_per_s", "elapsed_s"}
//                           per step; {"type": "val", "step", "val_loss"} at each checkpoint
//   loss.svg, sft_config.json (the resolved config)
// The data order of step s is a pure function of (data.seed, s), so the step, the weights and the
// optimizer state are the whole state of a run.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/json.h"
#include "data/tokenizer.h"
#include "nn/gpt.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"
#include "train/sft_batch.h"
#include "train/sft_config.h"
#include "train/sft_data.h"

namespace kiln::train {

inline constexpr const char* kSftStateFormat = "kiln-sft-1";

struct SftStepResult {
  int64_t step = 0;  // steps completed after this one
  double loss = 0;
  double lr = 0;
  double grad_norm = 0;  // before clipping
  bool skipped = false;  // non-finite gradient norm: no update
  GlobalBatchResult batch;
};

class SftTrainer {
 public:
  // Loads the model folder and tokenizer, reads and tokenizes the data, builds the optimizer.
  static absl::StatusOr<std::unique_ptr<SftTrainer>> Create(const SftConfig& config);
  // Continues from a checkpoint/ folder; the config's identity (SftRunIdentity) must match.
  static absl::StatusOr<std::unique_ptr<SftTrainer>> Resume(const std::string& dir,
                                                            const SftConfig& config);
  // The config stored in a checkpoint folder's trainer_state.json.
  static absl::StatusOr<Json> CheckpointConfig(const std::string& dir);

  SftStepResult Step();
  // Token-mean loss over the validation examples (no graph); NaN without validation data.
  double Evaluate() const;
  // The examples of step `step` (0-based), in order.
  std::vector<const data::TokenizedExample*> BatchOf(int64_t step) const;

  absl::Status SaveState(const std::string& dir) const;   // resumable checkpoint folder
  absl::Status SaveModelAt(const std::string& dir) const;  // model folder only

  struct RunOptions {
    bool progress = true;
    std::function<void(const SftStepResult&)> on_step;
  };
  // Trains to total_steps() (or run.stop_after), writing the output layout above.
  absl::Status Run(const RunOptions& options);

  nn::GptModel& model() { return *model_; }
  const nn::GptModel& model() const { return *model_; }
  optim::Optimizer& optimizer() { return *optimizer_; }
  const data::Tokenizer& tokenizer() const { return *tokenizer_; }
  const SftConfig& config() const { return config_; }
  int64_t step() const { return step_; }
  int64_t total_steps() const { return total_steps_; }
  int64_t steps_per_epoch() const { return steps_per_epoch_; }
  const SftExampleSet& train_set() const { return train_; }
  const SftExampleSet& val_set() const { return val_; }
  bool has_validation() const { return !val_.examples.empty(); }
  const std::vector<Json>& metrics() const { return metrics_; }
  // True when step N is saved to checkpoints/step_<N> (save_steps, save_every, the last step).
  bool IsSaveStep(int64_t n) const;

 private:
  SftTrainer() = default;
  GlobalBatchOptions BatchOptions(bool backward) const;
  absl::Status AppendMetric(Json record);
  absl::Status Checkpoint(int64_t step, bool model_folder);

  SftConfig config_;
  DType precision_ = DType::kF32;  // run.precision, parsed once (the GEMM operands' dtype)
  LossNorm norm_ = LossNorm::kToken;
  std::unique_ptr<data::Tokenizer> tokenizer_;
  std::unique_ptr<nn::GptModel> model_;
  std::vector<std::pair<std::string, Tensor>> named_params_;
  std::unique_ptr<optim::Optimizer> optimizer_;
  std::unique_ptr<optim::LrSchedule> schedule_;
  SftExampleSet train_, val_;
  int64_t steps_per_epoch_ = 0, total_steps_ = 0;
  int64_t step_ = 0, tokens_seen_ = 0;
  double elapsed_before_ = 0, elapsed_now_ = 0;
  std::vector<Json> metrics_;
  std::unique_ptr<JsonlAppender> metrics_file_;
  mutable int64_t order_epoch_ = -1;
  mutable std::vector<int64_t> order_;
};

// Library entry points (kiln demo runs SFT in-process): a whole run from `config` (the output
// layout above under config.run.out_dir); RunSftTrainer also resumes (`resume_dir` non-empty)
// and returns the finished trainer (metrics, model).
absl::Status RunSft(const SftConfig& config);
absl::StatusOr<std::unique_ptr<SftTrainer>> RunSftTrainer(const SftConfig& config,
                                                          const std::string& resume_dir,
                                                          bool progress);

}  // namespace kiln::train
