// The run config of `kiln train`: one JSON object with four sections, every field optional (the
// defaults below), every field checked with a one-line error naming the field:
//   {"model": "gpt2-tiny" | "llama-tiny" | "path/to/config.json" | {Hugging Face config.json},
//    "data":  {"text": [...], "tokens": [...], "tokenizer": "byte", "seq_len": 128,
//              "batch_size": 8, "grad_accum": 1, "shuffle": true, "seed": 1, "val_batches": 4},
//    "optim": {"name": "adamw", "lr": 1e-3, "betas": [0.9, 0.95], "eps": 1e-8,
//              "weight_decay": 0.1, "momentum": 0, "decay_embeddings": true,
//              "schedule": "cosine", "warmup_steps": 0, "warmup_ratio": 0, "min_lr": 0,
//              "min_ratio": 0, "clip": 1.0},
//    "run":   {"steps": 200, "stop_after": 0, "eval_every": 50, "save_every": 0,
//              "log_every": 10, "out_dir": "out/train", "threads": 0, "seed": 1,
//              "log_internals": false}}
// Flags of `kiln train` override fields (ApplyOverride); an error about a field a flag set names
// the flag too. Docs: docs/training.md.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/json.h"
#include "data/tokenizer.h"
#include "nn/config.h"

namespace kiln::train {

struct DataConfig {
  std::vector<std::string> text;    // text files, tokenized whole, each ending with <|eos|>
  std::vector<std::string> tokens;  // token shards: files, folders or globs (data/token_file.h)
  std::string tokenizer = "byte";   // "byte", "gpt2" or a tokenizer JSON file
  int64_t seq_len = 128;
  int64_t batch_size = 8;  // sequences per micro-batch
  int64_t grad_accum = 1;  // micro-batches per optimizer step
  bool shuffle = true;
  int64_t seed = 1;         // shuffle order
  int64_t val_batches = 4;  // held-out batches at the end of the stream; 0: no validation
};

struct OptimConfig {
  std::string name = "adamw";  // "adamw" or "sgd"
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.95, eps = 1e-8;  // adamw
  double weight_decay = 0.1;
  double momentum = 0.0;  // sgd
  bool decay_embeddings = true;
  std::string schedule = "cosine";  // "constant", "linear" or "cosine" (after warmup)
  int64_t warmup_steps = 0;
  double warmup_ratio = 0.0;
  double min_lr = 0.0, min_ratio = 0.0;
  double clip = 1.0;  // max global grad norm; 0: no clipping
};

// The "optim" section of a run config (shared by `kiln train` and `kiln sft`): as JSON, and read
// from root["optim"] into *out (fields absent keep *out's values; errors are one line).
Json OptimToJson(const OptimConfig& optim);
absl::Status ReadOptimSection(const Json& root, const std::string& where,
                              const std::map<std::string, std::string>& flag_of,
                              OptimConfig* out);

struct RunConfig {
  int64_t steps = 200;       // optimizer steps of the whole run (the schedule's length)
  int64_t stop_after = 0;    // > 0: stop (and save) after this many steps; resume continues
  int64_t eval_every = 50;   // validation loss every N steps (and at the end); 0: at the end only
  int64_t save_every = 0;    // checkpoint every N steps; 0: at the end only
  int64_t log_every = 10;    // metrics record every N steps (and the first and last)
  std::string out_dir = "out/train";
  int64_t threads = 0;  // thread-pool threads; 0: all cores (the bits do not depend on it)
  int64_t seed = 1;     // model initialization
  bool log_internals = false;
  std::string device = "cpu";  // cpu, cuda, cuda:N or cuda-sim (may change on resume)
  std::string precision = "f32";  // f32 or bf16 (mixed precision; docs/mixed_precision.md)
};

struct TrainConfig {
  Json model = "gpt2-tiny";  // as given: a preset name, a config.json path or an HF object
  DataConfig data;
  OptimConfig optim;
  RunConfig run;

  // Every field, in the layout FromJson reads ("betas" as a pair).
  Json ToJson() const;
  // Unknown fields and sections are errors too (a typo would otherwise be silently ignored).
  // `flag_of` maps a dotted field ("optim.lr") to the flag that set it ("--lr"), for messages.
  static absl::StatusOr<TrainConfig> FromJson(
      const Json& j, const std::string& where,
      const std::map<std::string, std::string>& flag_of = {});
};

// Reads a run config file (errors name the file).
absl::StatusOr<Json> ReadTrainConfigJson(const std::string& path);

// Sets a dotted field ("optim.lr") of a config JSON to `value`, creating the section.
void SetField(Json& config, const std::string& dotted, Json value);

// What data.tokenizer / --tokenizer names: "byte", "gpt2" or a tokenizer JSON file
// (data::ResolveTokenizer; errors name the file).
absl::StatusOr<std::unique_ptr<data::Tokenizer>> ResolveTokenizerSpec(const std::string& spec);

// Preset names accepted as "model".
std::vector<std::string> ModelPresets();

// The model config a run trains: a preset, a config.json path or an HF object; vocab_size and the
// position count may be left out of an object (then: the tokenizer's vocabulary, seq_len). Checks
// that the vocabulary holds every id the tokenizer makes and that seq_len fits the positions.
absl::StatusOr<nn::GptConfig> ResolveModelConfig(const Json& model, int64_t vocab_size,
                                                 int64_t seq_len, const std::string& where);

// The fields that decide the bits of a run: everything but where it writes, how often it logs,
// evaluates and saves, threads and stop_after. Resuming with a config whose identity differs
// from the checkpoint's is refused.
Json RunIdentity(const Json& config_json);
// "" when equal, else the dotted path of the first difference and both values.
std::string FirstDifference(const Json& a, const Json& b, const std::string& path = "");

}  // namespace kiln::train
