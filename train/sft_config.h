// The run config of `kiln sft`: one JSON object with four parts, every field optional except
// model and data.train, every field checked with a one-line error naming it, unknown fields errors:
//   {"model": "path/to/model_folder",          (HF / kiln model folder or a kiln train checkpoint)
//    "data":  {"train": "train.jsonl", "val": "", "val_fraction": 0, "tokenizer": "",
//              "max_len": 1024, "pack": false, "shuffle": true, "seed": 1,
//              "global_batch": 32, "micro_batch": 0, "normalization": "token",
//              "min_supervised_share": 0.05},
//    "optim": {the optim section of `kiln train` (train_config.h); SFT defaults: lr 1e-4,
//              weight_decay 0, warmup_ratio 0.03, schedule cosine, clip 1},
//    "run":   {"epochs": 1, "steps": 0, "stop_after": 0, "save_steps": [], "save_every": 0,
//              "log_every": 1, "out_dir": "out/sft", "threads": 0}}
// Docs: docs/sft.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/json.h"
#include "train/train_config.h"

namespace kiln::train {

// How the token losses of a global batch become the loss of the step:
//   token:    sum of the response-token losses / response tokens of the whole global batch
//   sequence: mean over the global batch's examples of each example's mean response-token loss
//   sum:      sum of the response-token losses
enum class LossNorm { kToken, kSequence, kSum };
absl::StatusOr<LossNorm> ParseLossNorm(const std::string& name);
std::string LossNormName(LossNorm n);

struct SftDataConfig {
  std::string train;            // JSONL of {"prompt", "response", ...} (kiln data make)
  std::string val;              // held-out JSONL; "" : val_fraction of train, or none
  double val_fraction = 0.0;    // share of train held out for validation when val is ""
  std::string tokenizer;        // "": <model>/kiln_tokenizer.json; else byte, gpt2 or a file
  int64_t max_len = 1024;       // tokens per example (right truncation) and per packed row
  bool pack = false;            // pack each micro-batch's examples into rows of max_len
  bool shuffle = true;          // seeded shuffle per epoch; false: file order
  int64_t seed = 1;             // shuffle order and the validation split
  int64_t global_batch = 32;    // examples per optimizer step
  int64_t micro_batch = 0;      // examples per forward/backward; 0: global_batch
  std::string normalization = "token";  // token, sequence or sum
  double min_supervised_share = 0.05;   // error below this share of supervised tokens
};

struct SftRunConfig {
  int64_t epochs = 1;                // passes over the training set (when steps is 0)
  int64_t steps = 0;                 // optimizer steps; 0: epochs x (examples / global_batch)
  int64_t stop_after = 0;            // > 0: stop (and save) after this many steps
  std::vector<int64_t> save_steps;   // steps whose model goes to checkpoints/step_<N> (0: base)
  int64_t save_every = 0;            // also every N steps; 0: never
  int64_t log_every = 1;             // progress line every N steps (metrics: every step)
  std::string out_dir = "out/sft";
  int64_t threads = 0;               // OpenMP threads; 0: all cores (the bits do not depend)
  std::string device = "cpu";        // cpu, cuda, cuda:N or cuda-sim (may change on resume)
  std::string precision = "f32";     // f32 or bf16 (mixed precision; docs/mixed_precision.md)
};

struct SftConfig {
  std::string model;  // model folder
  SftDataConfig data;
  OptimConfig optim = DefaultSftOptim();
  SftRunConfig run;

  static OptimConfig DefaultSftOptim();
  Json ToJson() const;
  // `flag_of` maps a dotted field ("optim.lr") to the flag that set it ("--lr"), for messages.
  static absl::StatusOr<SftConfig> FromJson(const Json& j, const std::string& where,
                                            const std::map<std::string, std::string>& flag_of = {});
};

// Library entry point: the config from a JSON object (errors say "sft config").
absl::StatusOr<SftConfig> SftConfigFromJson(const Json& j);

// The fields that decide the bits of a run (all but out_dir, stop_after, save_steps,
// save_every, log_every and threads): resuming with another identity is refused.
Json SftRunIdentity(const Json& config_json);

}  // namespace kiln::train
