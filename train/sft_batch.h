// One SFT optimizer step's arithmetic, separate from the loop so tests can check it exactly.
//
// A global batch is G tokenized examples (data/chat_template.h: targets shifted by one, loss mask
// 1 on response tokens and the final EOS, decided by position). Each example gets a weight from
// the normalization over the WHOLE global batch (never per micro-batch):
//   token:    w = 1 / (response tokens of the global batch)
//   sequence: w = 1 / (G * response tokens of this example)
//   sum:      w = 1
// and the step's loss is sum over examples and positions of w * mask * CE(position). The batch is
// run as G / M micro-batches of M examples, in order; each adds the gradient of its share
// (Backward accumulates into the parameters' .grad in that fixed order), so the step's gradient
// does not depend on M beyond float rounding. Unpacked, each example is one row padded (on the
// right, by position) to the longest example of the micro-batch; packed, the micro-batch's examples
// are packed greedily into rows of max_len (data/packing.h) with per-document positions and
// attention, and no label crosses a document boundary (each document's last target is masked).
#pragma once

#include <cstdint>
#include <vector>

#include "data/chat_template.h"
#include "nn/gpt.h"
#include "train/sft_config.h"

namespace kiln::train {

// Supervised (loss-mask) positions of an example.
int64_t SupervisedTokens(const data::TokenizedExample& ex);

// Each example's weight under `norm` for this global batch (see above).
std::vector<double> ExampleWeights(const std::vector<const data::TokenizedExample*>& batch,
                                   LossNorm norm);

// The model input of one micro-batch: ids, positions, doc ids (packed only), targets (-100 where
// nothing is learned), per-token loss weights (mask x example weight).
struct MicroBatch {
  nn::ModelInput input;
  Tensor targets;  // (rows, T) i32
  Tensor weights;  // (rows, T) f32
  int64_t rows = 0, width = 0;
  int64_t real_tokens = 0;  // non-padding tokens
};
MicroBatch BuildMicroBatch(const std::vector<const data::TokenizedExample*>& examples,
                           const std::vector<double>& weights, bool pack, int max_len,
                           int32_t pad_id);

// The weighted loss of one micro-batch: sum of weights x token cross-entropies (a scalar).
Tensor MicroBatchLoss(const nn::GptModel& model, const MicroBatch& mb);

struct GlobalBatchOptions {
  LossNorm norm = LossNorm::kToken;
  int64_t micro_batch = 1;  // must divide the batch size
  bool pack = false;
  int max_len = 1024;
  int32_t pad_id = 0;
  bool backward = true;  // false: loss only (no graph)
};
struct GlobalBatchResult {
  double loss = 0;              // the step's loss (micro-batch losses added in double, in order)
  int64_t response_tokens = 0;  // supervised positions
  int64_t real_tokens = 0;      // non-padding tokens
  int64_t computed_tokens = 0;  // rows x width summed over micro-batches (padding included)
};
// Runs the global batch through the model; with `backward`, adds its gradient to the
// parameters' .grad (callers zero them first).
GlobalBatchResult RunGlobalBatch(const nn::GptModel& model,
                                 const std::vector<const data::TokenizedExample*>& batch,
                                 const GlobalBatchOptions& options);

}  // namespace kiln::train
