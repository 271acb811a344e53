// `kiln eval` as a library (docs/eval.md): evaluation prompts from each task's eval split, the chat
// template, batched sampling with a KV cache and per-sample seeds, answer extraction and scoring,
// and per-suite metrics with bootstrap confidence intervals over prompts.
//
// Three stages, each usable alone (tests feed fixed responses into the third):
//   BuildPrompts    config -> the prompts of every suite (a pure function of the config)
//   SampleResponses model + tokenizer + prompts -> k responses per prompt
//   ScoreResponses  prompts + responses -> per-sample records and per-suite metrics
// EvaluateModel runs all three on a model folder; WriteEvalOutputs writes results.json and
// samples.jsonl.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/json.h"
#include "data/tokenizer.h"
#include "eval/metrics.h"
#include "nn/generate.h"
#include "nn/gpt.h"
#include "tasks/task.h"

namespace kiln::eval {

struct EvalConfig {
  std::vector<std::string> suites = {"countdown", "cross_domain", "instruction", "safety"};
  int64_t n_prompts = 8;        // per task (the cross-domain suite has 7 tasks)
  int64_t k = 4;                // samples per prompt
  double temperature = 0.6;     // 0 = greedy (also what greedy sets)
  double top_p = 0.95;
  int64_t top_k = 0;
  bool greedy = false;          // temperature 0, one sample is enough but k are still drawn
  int64_t max_new_tokens = 256;
  int64_t batch_size = 16;      // samples per Generate call; results do not depend on it
  uint64_t seed = 1;            // sampling seeds derive from (seed, task, prompt, sample)
  uint64_t prompt_seed = 1234;  // which eval-split prompts (tasks::GenerateInSplit)
  int64_t bootstrap_resamples = 1000;

  // Every field optional; unknown fields and wrong types are one-line errors naming `where`.
  static absl::StatusOr<EvalConfig> FromJson(const Json& j, const std::string& where);
  Json ToJson() const;
  // Unknown suite, k < 1, n_prompts < 1, bad sampling values: an error naming the flag.
  absl::Status Validate() const;
  double effective_temperature() const { return greedy ? 0.0 : temperature; }
};

// The suites and the tasks each one holds, in report order.
std::vector<std::string> SuiteNames();
absl::StatusOr<std::vector<std::string>> SuiteTasks(const std::string& suite);

struct EvalPrompt {
  std::string suite, task;
  int64_t index = 0;       // within its task
  std::string id;          // "<task>/<index>"
  tasks::Instance instance;
  std::string text;        // the task prompt (before the chat template)
};
absl::StatusOr<std::vector<EvalPrompt>> BuildPrompts(const EvalConfig& config);
// Hash of a task's prompt texts (16 hex digits), so two results can be checked to share prompts.
std::string PromptSetHash(const std::vector<EvalPrompt>& prompts, const std::string& task);

// Seed of sample `sample` of prompt `index` of `task`: 53 bits of Philox over (seed, task, index,
// sample), so it does not depend on the batch or on which other suites run.
uint64_t SampleSeed(uint64_t seed, const std::string& task, int64_t index, int64_t sample);

struct RawSample {
  std::string response;   // decoded new tokens without the stop token
  int64_t length = 0;     // new tokens, including the stop token when one was hit
  bool truncated = false; // max_new_tokens reached without a stop token
  uint64_t seed = 0;
};

// Sampling parameters of a config, with stop tokens <|eos|> and <|end|> (those inside the model's
// vocabulary).
absl::StatusOr<nn::SamplingParams> MakeSamplingParams(const nn::GptModel& model,
                                                      const data::Tokenizer& tok,
                                                      const EvalConfig& config);
// The chat-templated generation prompt; an error naming `id` when an id is outside the model's
// vocabulary or the prompt plus max_new_tokens exceeds max_positions.
absl::StatusOr<std::vector<int32_t>> PromptIds(const nn::GptModel& model,
                                               const data::Tokenizer& tok,
                                               const std::string& prompt, const std::string& id,
                                               int64_t max_new_tokens);
// One nn::Generate call, decoded (stop token dropped from the text, kept in the length).
std::vector<RawSample> GenerateRaw(const nn::GptModel& model, const data::Tokenizer& tok,
                                   const std::vector<nn::GenerateRequest>& requests,
                                   const nn::SamplingParams& params);

struct SamplingStats {
  int64_t samples = 0, new_tokens = 0;
  double seconds = 0;
};
// k samples per prompt (responses[p][j]), drawn in batches of config.batch_size with stop tokens
// <|eos|> and <|end|>. A prompt that does not fit max_positions with max_new_tokens is an error.
// Shows a progress line (prompts done, samples/s, ETA) unless quiet.
absl::StatusOr<std::vector<std::vector<RawSample>>> SampleResponses(
    const nn::GptModel& model, const data::Tokenizer& tok, const std::vector<EvalPrompt>& prompts,
    const EvalConfig& config, bool quiet, SamplingStats* stats);

// A response that opens <think> and never closes it (no "</think>" after its last "<think>") has
// no answer; otherwise the task's ExtractAnswer (text before the last </think> dropped).
bool HasUnclosedThink(const std::string& response);

struct SampleRecord {
  std::string suite, task, prompt_id;
  int64_t prompt_index = 0, sample_index = 0;
  std::string response;               // raw text, thinking included
  std::optional<std::string> answer;  // extracted; nullopt when none (or unclosed <think>)
  std::string canonical;              // Canonical(answer) for majority voting; "" when none
  tasks::Score score;
  bool unclosed_think = false;
  bool refused = false;               // safety only
  int64_t length = 0;
  bool truncated = false;
  uint64_t seed = 0;
  Json ToJson() const;
};

// Metric name -> mean and 95% bootstrap interval over prompts.
using Metrics = std::map<std::string, Interval>;

struct GroupResult {
  int64_t prompts = 0, samples = 0;
  Metrics metrics;
  // Per-prompt values of the headline score (avg@k; for safety the safe-behaviour score), in
  // prompt order: what paired comparisons between checkpoints resample.
  std::vector<double> per_prompt_score;
  std::vector<double> per_prompt_length;
};

struct SuiteResult {
  std::string suite;
  std::map<std::string, GroupResult> tasks;  // one per task of the suite
  GroupResult aggregate;                      // all prompts of the suite
};

struct EvalResult {
  EvalConfig config;
  std::vector<SampleRecord> samples;
  std::vector<SuiteResult> suites;  // config.suites order
  std::map<std::string, std::string> prompt_set_hashes;  // task -> PromptSetHash
  Json info;  // model folder, checkpoint hash, revision, timings... (filled by EvaluateModel)
  Json ToJson() const;  // results.json
};

// Scores fixed responses (responses[p] has config.k samples for prompts[p]) and aggregates.
absl::StatusOr<EvalResult> ScoreResponses(const EvalConfig& config,
                                          const std::vector<EvalPrompt>& prompts,
                                          const std::vector<std::vector<RawSample>>& responses);

// Loads model_dir (nn::LoadModel + kiln_tokenizer.json), builds prompts, samples and scores.
// Errors (one line) name the folder or flag.
absl::StatusOr<EvalResult> EvaluateModel(const std::string& model_dir, const EvalConfig& config,
                                         bool quiet = false);
// The same with a model already loaded (info["model"] gets `label`).
absl::StatusOr<EvalResult> EvaluateLoaded(const nn::GptModel& model, const data::Tokenizer& tok,
                                          const EvalConfig& config, const std::string& label,
                                          bool quiet = false);

// out_dir/results.json and out_dir/samples.jsonl (the folder is created).
absl::Status WriteEvalOutputs(const EvalResult& result, const std::string& out_dir);

// 16 hex digits of a hash of the file's bytes (model.safetensors): the checkpoint hash.
absl::StatusOr<std::string> FileHash(const std::string& path);
// The git revision kiln was built from ("unknown" outside a git checkout).
std::string GitRevision();

}  // namespace kiln::eval
