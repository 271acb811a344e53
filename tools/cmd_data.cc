// `kiln data`: make task datasets (SFT variants), pretraining mixtures, rejection-sampled data
// from a kiln model (`sample`), statistics with a length
// histogram, and the check that no evaluation prompt is in a training file.
#include <chrono>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/json.h"
#include "base/file.h"
#include "data/dataset.h"
#include "eval/sample_data.h"
#include "nn/model_io.h"
#include "report/plot.h"
#include "tools/run_util.h"

namespace kiln::tools {
namespace {

// Writes <out>.stats.json and <out>.lengths.svg and prints a one-line summary.
absl::Status WriteStats(const std::string& path, const std::vector<data::Record>& records,
                        const std::string& stats_json, const std::string& svg) {
  data::ByteTokenizer tok;
  data::DatasetStats s = data::ComputeStats(records, tok);
  if (!stats_json.empty()) {
    if (auto st = WriteJsonFile(stats_json, data::StatsToJson(s)); !st.ok()) return st;
  }
  if (!svg.empty()) {
    if (auto st = report::WriteSvg(svg, data::LengthHistogramSvg(s, path)); !st.ok()) return st;
  }
  std::printf(
      "%s: %lld records, %lld verified; response chars mean %.1f p95 %.0f; response tokens (byte) "
      "mean %.1f p50 %.0f p95 %.0f max %.0f\n",
      path.c_str(), static_cast<long long>(s.n), static_cast<long long>(s.verified),
      s.response_chars.mean, s.response_chars.p95, s.response_tokens.mean, s.response_tokens.p50,
      s.response_tokens.p95, s.response_tokens.max);
  return absl::OkStatus();
}

int Finish(const absl::StatusOr<std::vector<data::Record>>& records, const std::string& out,
           bool stats, std::chrono::steady_clock::time_point start) {
  if (!records.ok()) return Fail(records.status());
  if (auto s = data::WriteRecords(out, *records); !s.ok()) return Fail(s);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("wrote %zu records to %s in %.2f s\n", records->size(), out.c_str(), secs);
  if (stats) {
    if (auto s = WriteStats(out, *records, out + ".stats.json", out + ".lengths.svg"); !s.ok()) {
      return Fail(s);
    }
  }
  return kExitOk;
}

int RunMake(const std::vector<std::string>& args) {
  std::string task, variant = "cot", split = "train", out;
  int64_t n = 0, seed = 1, difficulty = 0, dead_ends = -1, tries = -1;
  double rate = 0.5;
  bool stats = true;
  FlagSet flags("data make",
                "Makes a dataset of one task: kiln data make --task countdown --n 20480 "
                "--variant cot --seed 1 -o countdown_cot.jsonl");
  flags.String("task", &task, "task name (countdown, general_points, arithmetic, ...)");
  flags.Int("n", &n, "number of records");
  flags.String("variant", &variant, "cot, nocot, lowq or short");
  flags.Int("seed", &seed, "dataset seed: record i comes from (seed, i)");
  flags.Int("difficulty", &difficulty, "task difficulty; 0 draws every level");
  flags.String("split", &split, "train or eval (disjoint by a hash of the prompt)");
  flags.Double("low_quality_rate", &rate, "lowq: share of low-quality records");
  flags.Int("dead_ends", &dead_ends, "CoT: failed branches shown per trace (-1: task default)");
  flags.Int("tries", &tries, "CoT: attempts shown per failed branch (-1: task default)");
  flags.String("out", &out, "output JSONL (also -o)");
  flags.Bool("stats", &stats, "also write <out>.stats.json and <out>.lengths.svg");
  if (int rc = ParseOrExit(flags, ExpandShort(args)); rc >= 0) return rc;
  if (task.empty()) return Fail(absl::InvalidArgumentError("--task: required"));
  if (out.empty()) return Fail(absl::InvalidArgumentError("--out (-o): required"));
  if (seed < 0)
    return Fail(absl::InvalidArgumentError(absl::StrCat("--seed: must be >= 0, got ", seed)));
  if (difficulty < 0 || difficulty > 1000) {
    return Fail(
        absl::InvalidArgumentError(absl::StrCat("--difficulty: out of range: ", difficulty)));
  }
  data::MakeOptions o;
  o.task = task;
  o.n = n;
  o.variant = variant;
  o.seed = static_cast<uint64_t>(seed);
  o.difficulty = static_cast<int>(difficulty);
  o.split = split;
  o.low_quality_rate = rate;
  o.trace.dead_ends = static_cast<int>(std::max<int64_t>(-1, std::min<int64_t>(dead_ends, 64)));
  o.trace.tries_per_dead_end =
      static_cast<int>(std::max<int64_t>(-1, std::min<int64_t>(tries, 64)));
  auto start = std::chrono::steady_clock::now();
  return Finish(data::MakeDataset(o), out, stats, start);
}

int RunMix(const std::vector<std::string>& args) {
  std::string sources, out;
  int64_t n = 0, seed = 1;
  bool stats = true;
  FlagSet flags("data mix",
                "Makes a pretraining mixture of short answers: kiln data mix --sources "
                "countdown=2,general_points=1,arithmetic=1,safety=0.5 --n 100000 -o mix.jsonl");
  flags.String("sources", &sources, "task[:difficulty]=weight, comma separated");
  flags.Int("n", &n, "number of records");
  flags.Int("seed", &seed, "mixture seed");
  flags.String("out", &out, "output JSONL (also -o)");
  flags.Bool("stats", &stats, "also write <out>.stats.json and <out>.lengths.svg");
  if (int rc = ParseOrExit(flags, ExpandShort(args)); rc >= 0) return rc;
  if (out.empty()) return Fail(absl::InvalidArgumentError("--out (-o): required"));
  auto src = data::ParseMixSources(sources);
  if (!src.ok()) return Fail(src.status());
  auto start = std::chrono::steady_clock::now();
  return Finish(data::MakeMixture(*src, n, static_cast<uint64_t>(seed)), out, stats, start);
}

int RunStats(const std::vector<std::string>& args) {
  std::string svg, json;
  FlagSet flags("data stats", "Prints statistics of dataset files: kiln data stats a.jsonl ...");
  flags.String("svg", &svg, "write the response-length histogram here (one file only)");
  flags.String("json", &json, "write the statistics as JSON here (one file only)");
  if (int rc = ParseOrExit(flags, args); rc >= 0) return rc;
  if (flags.positional().empty()) return Fail(absl::InvalidArgumentError("no files given"));
  if (flags.positional().size() > 1 && (!svg.empty() || !json.empty())) {
    return Fail(absl::InvalidArgumentError("--svg / --json: give one file at a time"));
  }
  for (const auto& path : flags.positional()) {
    auto records = data::ReadRecords(path);
    if (!records.ok()) return Fail(records.status());
    if (auto s = WriteStats(path, *records, json, svg); !s.ok()) return Fail(s);
  }
  return kExitOk;
}

int RunCheckSplit(const std::vector<std::string>& args) {
  std::string train, eval;
  FlagSet flags("data check-split",
                "Fails when a prompt of an evaluation file appears in a training file.");
  flags.String("train", &train, "training files, comma separated");
  flags.String("eval", &eval, "evaluation files, comma separated");
  if (int rc = ParseOrExit(flags, args); rc >= 0) return rc;
  std::vector<std::string> tf = absl::StrSplit(train, ',', absl::SkipEmpty());
  std::vector<std::string> ef = absl::StrSplit(eval, ',', absl::SkipEmpty());
  if (tf.empty()) return Fail(absl::InvalidArgumentError("--train: no files given"));
  if (ef.empty()) return Fail(absl::InvalidArgumentError("--eval: no files given"));
  auto rep = data::CheckSplit(tf, ef);
  if (!rep.ok()) return Fail(rep.status());
  for (const auto& o : rep->overlapping) std::printf("overlap: %s\n", o.c_str());
  std::printf("%lld train prompts, %lld eval prompts, %zu eval prompts found in training files\n",
              static_cast<long long>(rep->train_prompts), static_cast<long long>(rep->eval_prompts),
              rep->overlapping.size());
  return rep->overlapping.empty() ? kExitOk : kExitError;
}

int RunSample(const std::vector<std::string>& args) {
  eval::SampleDataOptions o;
  std::string model_dir, task_list = "countdown", out;
  int64_t n = o.n, k = o.k, seed = 1, difficulty = 0, max_new = o.sampling.max_new_tokens,
          top_k = 0;
  double temperature = o.sampling.temperature, top_p = o.sampling.top_p;
  bool greedy = false, keep_all = false, stats = true;
  FlagSet flags("data sample",
                "Rejection-sampled SFT data from a kiln model: kiln data sample --model DIR "
                "--task countdown --n 64 --k 4 -o sampled.jsonl (train-split prompts; verified "
                "responses kept; acceptance rates in <out>.acceptance.json)");
  flags.String("model", &model_dir, "model folder with kiln_tokenizer.json");
  flags.String("task", &task_list, "task name(s), comma separated (SFT-eligible tasks)");
  flags.Int("n", &n, "prompts per task");
  flags.Int("k", &k, "samples per prompt");
  flags.Int("seed", &seed, "prompt i of a task comes from (seed, i), as in `kiln data make`");
  flags.Int("difficulty", &difficulty, "task difficulty; 0 draws every level");
  flags.Double("temperature", &temperature, "sampling temperature");
  flags.Double("top_p", &top_p, "nucleus sampling mass (1 = off)");
  flags.Int("top_k", &top_k, "sample among the k most likely tokens (0 = off)");
  flags.Bool("greedy", &greedy, "greedy decoding");
  flags.Int("max_new_tokens", &max_new, "new tokens per sample at most");
  flags.Bool("keep_all", &keep_all, "keep every distinct verified response (default: one per "
                                    "prompt, picked by the seed)");
  flags.String("out", &out, "output JSONL (also -o)");
  flags.Bool("stats", &stats, "also write <out>.stats.json and <out>.lengths.svg");
  if (int rc = ParseOrExit(flags, ExpandShort(args)); rc >= 0) return rc;
  if (model_dir.empty()) return Usage("--model: required");
  if (out.empty()) return Usage("--out (-o): required");
  if (seed < 0) return Usage(absl::StrCat("--seed: must be >= 0, got ", seed));
  if (difficulty < 0 || difficulty > 1000) {
    return Usage(absl::StrCat("--difficulty: out of range: ", difficulty));
  }
  o.tasks = absl::StrSplit(task_list, ',', absl::SkipWhitespace());
  o.n = n;
  o.k = k;
  o.seed = static_cast<uint64_t>(seed);
  o.difficulty = static_cast<int>(difficulty);
  o.keep_all = keep_all;
  o.sampling.temperature = temperature;
  o.sampling.top_p = top_p;
  o.sampling.top_k = top_k;
  o.sampling.greedy = greedy;
  o.sampling.max_new_tokens = max_new;
  if (n < 1) return Usage(absl::StrCat("--n: must be >= 1, got ", n));
  if (k < 1) return Usage(absl::StrCat("--k: must be >= 1, got ", k));
  o.sampling.k = k;
  if (auto s = o.sampling.Validate(); !s.ok()) return Usage(std::string(s.message()));
  auto model = nn::LoadModel(model_dir);
  if (!model.ok()) return Fail(model.status());
  auto tok = data::LoadTokenizer(model_dir + "/kiln_tokenizer.json");
  if (!tok.ok()) return Fail(tok.status());
  auto start = std::chrono::steady_clock::now();
  auto result = eval::SampleDataset(**model, **tok, o);
  if (!result.ok()) return Fail(result.status());
  const Json acceptance = eval::AcceptanceJson(*result);
  for (const auto& [task, a] : acceptance["tasks"].items()) {
    std::printf("%s: %lld prompts x %lld samples: %lld verified (%.1f%% of samples), %lld "
                "prompts with one (%.1f%%), %lld records\n",
                task.c_str(), static_cast<long long>(a["prompts"].get<int64_t>()),
                static_cast<long long>(k), static_cast<long long>(a["verified_samples"].get<int64_t>()),
                100 * a["sample_acceptance_rate"].get<double>(),
                static_cast<long long>(a["prompts_with_verified"].get<int64_t>()),
                100 * a["prompt_acceptance_rate"].get<double>(),
                static_cast<long long>(a["records"].get<int64_t>()));
  }
  if (auto s = WriteJsonFile(out + ".acceptance.json", acceptance); !s.ok()) return Fail(s);
  return Finish(std::move(result->records), out, stats, start);
}

}  // namespace

int RunData(const std::vector<std::string>& args) {
  const char* usage =
      "usage: kiln data <make|mix|stats|check-split|sample> [flags]   (kiln data <sub> --help)\n";
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::printf("%s", usage);
    return args.empty() ? kExitUsage : kExitOk;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "make") return RunMake(rest);
  if (args[0] == "mix") return RunMix(rest);
  if (args[0] == "stats") return RunStats(rest);
  if (args[0] == "check-split") return RunCheckSplit(rest);
  if (args[0] == "sample") return RunSample(rest);
  std::fprintf(stderr, "kiln data: unknown subcommand '%s'\n%s", args[0].c_str(), usage);
  return kExitUsage;
}

}  // namespace kiln::tools
