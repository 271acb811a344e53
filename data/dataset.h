// SFT and pretraining datasets built from the tasks: JSONL records (prompt, response, task,
// difficulty, variant, verified, seed), the SFT variants (verified long CoT, NoCoT, low quality at
// a chosen rate, teacher traces kept only when verified), the pretraining mixture, summary
// statistics and the train/eval overlap check. Record i of a set with seed s is a pure function of
// (s, i): same flags, same bytes, whatever the order of generation.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/json.h"
#include "data/tokenizer.h"
#include "tasks/task.h"

namespace kiln::data {

struct Record {
  std::string prompt, response, task;
  int difficulty = 0;
  std::string variant;  // cot, nocot, lowq, short, teacher
  bool verified = false;
  uint64_t seed = 0;   // the instance seed: Generate(seed, difficulty) rebuilds the instance
  std::string defect;  // lowq only: slip, truncated, shuffled or short ("" otherwise)
};

Json RecordToJson(const Record& r);
// `where` is "file:line" for messages.
absl::StatusOr<Record> RecordFromJson(const Json& j, const std::string& where);
absl::StatusOr<std::vector<Record>> ReadRecords(const std::string& path);
// Atomic: a failed build never leaves a half-written file.
absl::Status WriteRecords(const std::string& path, const std::vector<Record>& records);

// The SFT variants.
std::vector<std::string> VariantNames();

struct MakeOptions {
  std::string task;
  int64_t n = 0;
  std::string variant = "cot";
  uint64_t seed = 1;
  int difficulty = 0;             // 0: every level of the task, drawn per record
  std::string split = "train";    // train or eval
  double low_quality_rate = 0.5;  // lowq: share of records that are low quality
  tasks::TraceOptions trace;      // trace length (-1: the task's defaults)
};

// Errors name the flag (--task, --difficulty, --variant, --n, --split, --low-quality-rate).
absl::StatusOr<std::vector<Record>> MakeDataset(const MakeOptions& options);

// The teacher slot: `sample` draws k responses for one prompt from a kiln model (the SFT /
// evaluation issue provides it); a record keeps one verified response, picked by the seed, and
// prompts with none are skipped (counted in *dropped). Variant "teacher", verified true.
using SampleFn =
    std::function<std::vector<std::string>(const std::string& prompt, int k, uint64_t seed)>;
// With keep_all, every distinct verified response of a prompt becomes a record (in sample order).
struct TeacherStats {
  int64_t prompts = 0, samples = 0, verified_samples = 0, prompts_with_verified = 0, records = 0;
};
absl::StatusOr<std::vector<Record>> MakeTeacherDataset(const MakeOptions& options,
                                                       const SampleFn& sample, int k,
                                                       int64_t* dropped,
                                                       TeacherStats* stats = nullptr,
                                                       bool keep_all = false);

// A low-quality version of a verified CoT response (exposed for tests): "slip" changes one
// intermediate result, "truncated" cuts the trace before its answer, "shuffled" permutes the
// reasoning lines, "short" keeps only the answer.
std::string MakeDefect(const std::string& defect, const std::string& cot,
                       const std::string& short_solution, uint64_t seed);

// Pretraining mixture: short answers across domains, refusals, weights per source.
struct MixSource {
  std::string task;
  int difficulty = 0;  // 0: all levels
  double weight = 1.0;
};
// "countdown:3=2,arithmetic=1,safety=0.5": task[:difficulty]=weight, comma separated.
absl::StatusOr<std::vector<MixSource>> ParseMixSources(const std::string& spec);
absl::StatusOr<std::vector<Record>> MakeMixture(const std::vector<MixSource>& sources, int64_t n,
                                                uint64_t seed);

// Summary statistics of a file: counts per task / variant / difficulty, verified share, and length
// distributions in characters and in tokens of the chat-templated example.
struct LengthStats {
  double mean = 0, p50 = 0, p95 = 0, max = 0;
};
LengthStats ComputeLengthStats(std::vector<double> values);
struct DatasetStats {
  int64_t n = 0, verified = 0;
  std::map<std::string, int64_t> by_task, by_variant, by_difficulty;
  LengthStats prompt_chars, response_chars, response_tokens, example_tokens;
  std::vector<double> response_token_lengths;  // for the histogram
};
DatasetStats ComputeStats(const std::vector<Record>& records, const Tokenizer& tok);
Json StatsToJson(const DatasetStats& s);
// The response-length histogram (tokens) as SVG.
std::string LengthHistogramSvg(const DatasetStats& s, const std::string& title);

// Prompts of `eval_files` that also appear in `train_files` (should be none).
struct OverlapReport {
  int64_t train_prompts = 0, eval_prompts = 0;
  std::vector<std::string> overlapping;  // "eval.jsonl:12: <prompt head>"
};
absl::StatusOr<OverlapReport> CheckSplit(const std::vector<std::string>& train_files,
                                         const std::vector<std::string>& eval_files);

}  // namespace kiln::data
