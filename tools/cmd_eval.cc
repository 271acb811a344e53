// `kiln eval`: evaluate a model folder on the suites (countdown, cross_domain, instruction,
// safety), or with --sweep every checkpoint of a `kiln sft` run (eval/evaluate.h, eval/sweep_run.h,
// docs/eval.md).
#include "base/thread_pool.h"

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "eval/evaluate.h"
#include "eval/sweep_run.h"
#include "tools/run_util.h"

namespace kiln::tools {

int RunEval(const std::vector<std::string>& args) {
  eval::EvalConfig c;
  std::string model_dir, sweep_dir, config_path, suites, out;
  int64_t n_prompts = c.n_prompts, k = c.k, top_k = c.top_k, max_new = c.max_new_tokens,
          batch = c.batch_size, seed = static_cast<int64_t>(c.seed),
          prompt_seed = static_cast<int64_t>(c.prompt_seed),
          resamples = c.bootstrap_resamples, threads = 0;
  double temperature = c.temperature, top_p = c.top_p;
  bool greedy = false, quiet = false;
  FlagSet flags("eval",
                "Evaluates a model folder: kiln eval --model DIR --suites "
                "countdown,cross_domain,instruction,safety --n-prompts 8 --k 4 -o OUT; or every "
                "checkpoint of an SFT run: kiln eval --sweep RUN_DIR [-o OUT]");
  flags.String("model", &model_dir, "model folder (config.json, model.safetensors, "
                                    "kiln_tokenizer.json)");
  flags.String("sweep", &sweep_dir,
               "SFT run folder: evaluates RUN_DIR/checkpoints/step_<N>/ (instead of --model)");
  flags.String("config", &config_path, "JSON file of eval settings (fields as in results.json "
                                       "'config'); flags override it");
  flags.String("suites", &suites, "comma-separated: countdown, cross_domain, instruction, safety");
  flags.Int("n_prompts", &n_prompts, "prompts per task (eval split)");
  flags.Int("k", &k, "samples per prompt");
  flags.Double("temperature", &temperature, "sampling temperature");
  flags.Double("top_p", &top_p, "nucleus sampling mass (1 = off)");
  flags.Int("top_k", &top_k, "sample among the k most likely tokens (0 = off)");
  flags.Bool("greedy", &greedy, "greedy decoding (temperature 0)");
  flags.Int("max_new_tokens", &max_new, "new tokens per sample at most");
  flags.Int("batch_size", &batch, "samples per batch; results do not depend on it");
  flags.Int("seed", &seed, "sampling seed (per-sample seeds derive from it)");
  flags.Int("prompt_seed", &prompt_seed, "which eval-split prompts");
  flags.Int("bootstrap_resamples", &resamples, "bootstrap resamples for the 95% intervals");
  flags.Int("threads", &threads, "OpenMP threads (0 = all cores); results do not depend on it");
  flags.String("out", &out, "output folder (also -o; default eval_out, or RUN_DIR/eval)");
  flags.Bool("quiet", &quiet, "no progress line");
  if (int rc = ParseOrExit(flags, ExpandShort(args)); rc >= 0) return rc;

  if (model_dir.empty() == sweep_dir.empty()) {
    return Usage("give --model DIR or --sweep RUN_DIR (one of them)");
  }
  if (!config_path.empty()) {
    auto j = ReadJsonFile(config_path);
    if (!j.ok()) return Fail(j.status());
    auto parsed = eval::EvalConfig::FromJson(*j, config_path);
    if (!parsed.ok()) return Usage(std::string(parsed.status().message()));
    c = *parsed;
  }
  auto set = [&](const char* name) { return config_path.empty() || flags.WasSet(name); };
  if (set("suites") && !suites.empty()) {
    c.suites = absl::StrSplit(suites, ',', absl::SkipWhitespace());
  }
  if (set("n_prompts")) c.n_prompts = n_prompts;
  if (set("k")) c.k = k;
  if (set("temperature")) c.temperature = temperature;
  if (set("top_p")) c.top_p = top_p;
  if (set("top_k")) c.top_k = top_k;
  if (set("greedy")) c.greedy = greedy;
  if (set("max_new_tokens")) c.max_new_tokens = max_new;
  if (set("batch_size")) c.batch_size = batch;
  for (auto [name, v] : {std::pair{"seed", seed}, std::pair{"prompt_seed", prompt_seed}}) {
    if (v < 0) return Usage(absl::StrCat("--", name, ": must be >= 0, got ", v));
  }
  if (set("seed")) c.seed = static_cast<uint64_t>(seed);
  if (set("prompt_seed")) c.prompt_seed = static_cast<uint64_t>(prompt_seed);
  if (set("bootstrap_resamples")) c.bootstrap_resamples = resamples;
  if (auto s = c.Validate(); !s.ok()) return Usage(std::string(s.message()));
  if (threads < 0) return Usage(absl::StrCat("--threads: must be >= 0, got ", threads));
  if (threads > 0) kiln::SetNumThreads(static_cast<int>(threads));

  if (!sweep_dir.empty()) {
    auto summary = eval::RunSweep(sweep_dir, c, out, quiet);
    if (!summary.ok()) return Fail(summary.status());
    const std::string dir = out.empty() ? sweep_dir + "/eval" : out;
    for (const auto& [suite, s] : summary->items()) {
      std::printf("%-13s baseline %.3f  dip %.3f at step %s  recovery %s  final gain %+.3f\n",
                  suite.c_str(), s["baseline"].get<double>(), s["dip_depth"].get<double>(),
                  s["min_step"].dump().c_str(), s["recovery_step"].dump().c_str(),
                  s["final_gain"].get<double>());
    }
    std::printf("wrote %s/sweep.md, sweep.json, sweep_summary.json, sweep_score.svg, "
                "sweep_length.svg\n", dir.c_str());
    return kExitOk;
  }
  auto result = eval::EvaluateModel(model_dir, c, quiet);
  if (!result.ok()) return Fail(result.status());
  const std::string dir = out.empty() ? "eval_out" : out;
  if (auto s = eval::WriteEvalOutputs(*result, dir); !s.ok()) return Fail(s);
  for (const eval::SuiteResult& s : result->suites) {
    const auto& m = s.aggregate.metrics;
    std::printf("%-13s avg@%lld %.3f [%.3f, %.3f]  pass@%lld %.3f  maj@%lld %.3f  format %.3f  "
                "length %.1f  truncated %.3f\n",
                s.suite.c_str(), static_cast<long long>(c.k), m.at("avg@k").mean,
                m.at("avg@k").lo, m.at("avg@k").hi, static_cast<long long>(c.k),
                m.at("pass@k").mean, static_cast<long long>(c.k), m.at("maj@k").mean,
                m.at("format_rate").mean, m.at("mean_length").mean, m.at("truncation_rate").mean);
    if (s.tasks.size() > 1) {
      for (const auto& [task, g] : s.tasks) {
        const eval::Interval& a = g.metrics.at("avg@k");
        std::printf("  %-20s avg@%lld %.3f [%.3f, %.3f]  format %.3f\n", task.c_str(),
                    static_cast<long long>(c.k), a.mean, a.lo, a.hi,
                    g.metrics.at("format_rate").mean);
      }
    }
    if (m.count("refusal_rate")) std::printf("%-13s refusal rate (harmful) %.3f\n", "",
                                             m.at("refusal_rate").mean);
    if (m.count("over_refusal_rate")) std::printf("%-13s over-refusal (benign) %.3f\n", "",
                                                  m.at("over_refusal_rate").mean);
  }
  std::printf("%lld samples at %.1f samples/s; wrote %s/results.json and %s/samples.jsonl\n",
              static_cast<long long>(result->info["samples"].get<int64_t>()),
              result->info["samples_per_s"].get<double>(), dir.c_str(), dir.c_str());
  return kExitOk;
}

}  // namespace kiln::tools
