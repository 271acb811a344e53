// Pieces the pretraining loop (`kiln train`) and the SFT loop (`kiln sft`) share: the optimizer
// and LR schedule an OptimConfig describes, global-norm clipping of a parameter list, and the
// loss plot drawn from metrics records.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/json.h"
#include "data/tokenizer.h"
#include "nn/gpt.h"
#include "optim/optimizer.h"
#include "optim/schedule.h"
#include "tensor/tensor.h"
#include "train/train_config.h"

namespace kiln::train {

// Writes a model folder nn::LoadModel reads (model.safetensors in the Hugging Face layout,
// config.json, kiln_tokenizer.json) through io::SaveCheckpoint's atomic folder swap; with
// `optimizer_state` and `trainer_state` it is a resumable training checkpoint. The one place that
// decides what a kiln model folder holds (kiln train, kiln sft, kiln demo).
absl::Status SaveModelFolder(const std::string& dir, const nn::GptModel& model,
                             const data::Tokenizer& tokenizer,
                             const std::map<std::string, Tensor>& optimizer_state = {},
                             const Json& trainer_state = Json());

// "<prefix><message>" with the status's code.
absl::Status Prefixed(const std::string& prefix, const absl::Status& s);
// run.precision: "f32" -> kF32, "bf16" -> kBF16 (mixed precision: the GEMM operands in bf16,
// autograd/grad_mode.h AutocastGuard); anything else is an error naming the value.
absl::StatusOr<DType> ParsePrecision(const std::string& name);

// True when `every` > 0 and `step` is a multiple of it.
inline bool IsDue(int64_t step, int64_t every) { return every > 0 && step % every == 0; }

// AdamW or SGD over `named` (decay groups by optim::SplitDecayGroups).
std::unique_ptr<optim::Optimizer> MakeOptimizer(
    const std::vector<std::pair<std::string, Tensor>>& named, const OptimConfig& o);
// Warmup + decay over `total_steps` steps.
std::unique_ptr<optim::LrSchedule> MakeSchedule(const OptimConfig& o, int64_t total_steps);

// The global gradient norm of `named`'s gradients before clipping; clips to `clip` when > 0.
double ClipGradients(const std::vector<std::pair<std::string, Tensor>>& named, double clip);

// A trainer_state.json's counters that a resumed run carries on: tokens seen, training seconds,
// the metrics records so far (fields absent: 0, 0, none). `where` names the file in errors.
struct RunCounters {
  int64_t tokens = 0;
  double elapsed_s = 0;
  std::vector<Json> metrics;
};
absl::StatusOr<RunCounters> ReadRunCounters(const Json& state, const std::string& where);

// Checks that a loaded checkpoint folder is a training checkpoint of `format` with a "config"
// object in its trainer_state.json (one-line errors naming the folder / file).
absl::Status CheckTrainerState(const Json& state, const std::string& folder, const char* format);

// Writes an SVG of the "train" records' `loss` and the "val" records' `val_loss` against step.
absl::Status WriteLossPlot(const std::vector<Json>& metrics, const std::string& title,
                           const std::string& path);

}  // namespace kiln::train
