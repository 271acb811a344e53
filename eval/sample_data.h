// Rejection-sampled SFT data (`kiln data sample`, docs/eval.md): k responses per train-split
// prompt from a kiln model, scored by the task; verified ones become records of variant "teacher"
// through data::MakeTeacherDataset (the tasks issue's slot), in `kiln data make`'s JSONL format.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/dataset.h"
#include "data/tokenizer.h"
#include "eval/evaluate.h"
#include "nn/gpt.h"

namespace kiln::eval {

struct SampleDataOptions {
  std::vector<std::string> tasks = {"countdown"};
  int64_t n = 64;       // prompts per task
  int64_t k = 4;        // samples per prompt
  uint64_t seed = 1;    // prompts: record i of task t from (seed, i) as in `kiln data make`
  int difficulty = 0;   // 0: every level
  bool keep_all = false;  // every distinct verified response, not one per prompt
  // Sampling: temperature, top_p, top_k, greedy, max_new_tokens are used.
  EvalConfig sampling;
};

struct SampleDataResult {
  std::vector<data::Record> records;                 // tasks in order
  std::map<std::string, data::TeacherStats> by_task;
  int64_t samples = 0;
  double seconds = 0;
};

// Responses that open <think> and never close it are never accepted (as in evaluation).
absl::StatusOr<SampleDataResult> SampleDataset(const nn::GptModel& model,
                                               const data::Tokenizer& tok,
                                               const SampleDataOptions& options,
                                               bool quiet = false);

// Per task: prompts, samples, verified samples, acceptance rates (per sample and per prompt).
Json AcceptanceJson(const SampleDataResult& result);

}  // namespace kiln::eval
