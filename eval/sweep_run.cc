#include "eval/sweep_run.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/check.h"
#include "base/file.h"
#include "eval/sweep.h"
#include "report/plot.h"
#include "report/table.h"

namespace kiln::eval {
namespace {

namespace fs = std::filesystem;

Json IntervalJson(const Interval& ci) { return {{"mean", ci.mean}, {"lo", ci.lo}, {"hi", ci.hi}}; }

std::string Fmt(double x) { return absl::StrFormat("%.3f", x); }
std::string FmtCi(const Interval& ci) {
  return absl::StrFormat("%.3f [%.3f, %.3f]", ci.mean, ci.lo, ci.hi);
}

const GroupResult& Aggregate(const EvalResult& r, const std::string& suite) {
  for (const SuiteResult& s : r.suites) {
    if (s.suite == suite) return s.aggregate;
  }
  KILN_CHECK(false) << "sweep: suite " << suite << " missing from a result";
  __builtin_unreachable();
}

}  // namespace

absl::StatusOr<std::vector<Checkpoint>> FindCheckpoints(const std::string& run_dir) {
  const fs::path root = fs::path(run_dir) / "checkpoints";
  std::error_code ec;
  if (!fs::is_directory(run_dir, ec)) {
    return absl::InvalidArgumentError(absl::StrCat("--sweep: ", run_dir, ": not a folder"));
  }
  std::vector<Checkpoint> out;
  if (fs::is_directory(root, ec)) {
    for (const auto& entry : fs::directory_iterator(root, ec)) {
      const std::string name = entry.path().filename().string();
      if (!entry.is_directory() || name.rfind("step_", 0) != 0) continue;
      const std::string digits = name.substr(5);
      int64_t step;
      if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit) ||
          !absl::SimpleAtoi(digits, &step)) {
        continue;
      }
      out.push_back({step, entry.path().string()});
    }
  }
  if (out.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--sweep: ", run_dir, ": no checkpoints (expected model folders ", root.string(),
        "/step_<N>/)"));
  }
  std::sort(out.begin(), out.end(),
            [](const Checkpoint& a, const Checkpoint& b) { return a.step < b.step; });
  for (size_t i = 1; i < out.size(); ++i) {
    if (out[i].step == out[i - 1].step) {
      return absl::InvalidArgumentError(absl::StrCat("--sweep: ", run_dir, ": step ", out[i].step,
                                                     " appears twice (", out[i - 1].dir, ", ",
                                                     out[i].dir, ")"));
    }
  }
  return out;
}

double PlotStep(int64_t step, const std::vector<int64_t>& steps) {
  if (step > 0) return static_cast<double>(step);
  int64_t first = 0;
  for (int64_t s : steps) {
    if (s > 0 && (first == 0 || s < first)) first = s;
  }
  return first > 0 ? static_cast<double>(first) / 2.0 : 1.0;
}

absl::Status WriteSweepOutputs(const std::vector<int64_t>& steps,
                               const std::vector<EvalResult>& results, const std::string& out_dir) {
  if (steps.size() != results.size() || steps.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "sweep: need at least two checkpoints with one result each, got ", steps.size(),
        " steps and ", results.size(), " results"));
  }
  const EvalConfig& config = results[0].config;
  for (size_t i = 1; i < results.size(); ++i) {
    if (results[i].prompt_set_hashes != results[0].prompt_set_hashes ||
        results[i].config.ToJson() != config.ToJson()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "sweep: the result of step ", steps[i], " used other prompts or settings than step ",
          steps[0], " (a sweep compares the same prompts and seeds)"));
    }
  }
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat(out_dir, ": ", ec.message()));

  std::vector<double> xs;
  for (int64_t s : steps) xs.push_back(PlotStep(s, steps));
  Json sweep_j = {{"steps", steps}, {"k", config.k}, {"score_metric", "avg@k"}};
  Json suites_j = Json::object(), summary_j = Json::object();
  std::vector<report::Series> score_series, length_series;
  std::vector<std::vector<std::string>> score_rows(steps.size()), summary_rows;
  std::vector<std::string> header = {"step"};
  for (size_t i = 0; i < steps.size(); ++i) score_rows[i].push_back(absl::StrCat(steps[i]));

  for (const SuiteResult& sr : results[0].suites) {
    const std::string& suite = sr.suite;
    header.push_back(absl::StrCat(suite, " avg@", config.k));
    header.push_back(absl::StrCat(suite, " length"));
    report::Series score{.label = suite}, length{.label = suite};
    std::vector<double> means;
    Json per_step = Json::array();
    for (size_t i = 0; i < results.size(); ++i) {
      const GroupResult& g = Aggregate(results[i], suite);
      const Interval& sc = g.metrics.at("avg@k");
      const Interval& len = g.metrics.at("mean_length");
      means.push_back(sc.mean);
      score.x.push_back(xs[i]);
      score.y.push_back(sc.mean);
      score.lo.push_back(sc.lo);
      score.hi.push_back(sc.hi);
      length.x.push_back(xs[i]);
      length.y.push_back(len.mean);
      length.lo.push_back(len.lo);
      length.hi.push_back(len.hi);
      score_rows[i].push_back(FmtCi(sc));
      score_rows[i].push_back(absl::StrFormat("%.1f", len.mean));
      Json m = Json::object();
      for (const auto& [name, ci] : g.metrics) m[name] = IntervalJson(ci);
      per_step.push_back({{"step", steps[i]}, {"metrics", m}});
    }
    score.markers = length.markers = true;
    score_series.push_back(score);
    length_series.push_back(length);
    suites_j[suite] = per_step;

    auto summary = SummarizeSweep(steps, means);
    if (!summary.ok()) return summary.status();
    Json consecutive = Json::array();
    for (size_t i = 1; i < results.size(); ++i) {
      auto d = PairedBootstrapDiff(
          Aggregate(results[i - 1], suite).per_prompt_score,
          Aggregate(results[i], suite).per_prompt_score,
          tasks::HashString(absl::StrCat("paired/", suite, "/", steps[i - 1], "/", steps[i]),
                            config.seed),
          static_cast<int>(config.bootstrap_resamples));
      if (!d.ok()) return d.status();
      consecutive.push_back(
          {{"from", steps[i - 1]}, {"to", steps[i]}, {"diff", IntervalJson(*d)}});
    }
    auto final_diff = PairedBootstrapDiff(
        Aggregate(results.front(), suite).per_prompt_score,
        Aggregate(results.back(), suite).per_prompt_score,
        tasks::HashString(absl::StrCat("paired/", suite, "/final"), config.seed),
        static_cast<int>(config.bootstrap_resamples));
    if (!final_diff.ok()) return final_diff.status();
    const SweepSummary& s = *summary;
    summary_j[suite] = {
        {"metric", "avg@k"},
        {"baseline_step", steps.front()},
        {"baseline", s.baseline},
        {"min_score", s.min_score},
        {"min_step", s.min_step},
        {"dipped", s.dipped},
        {"dip_depth", s.dip_depth},
        {"recovery_step", s.recovery_step ? Json(*s.recovery_step) : Json(nullptr)},
        {"final_step", steps.back()},
        {"final_score", s.final_score},
        {"final_gain", s.final_gain},
        {"final_vs_baseline", IntervalJson(*final_diff)},
        {"consecutive", consecutive}};
    summary_rows.push_back(
        {suite, Fmt(s.baseline), s.dipped ? Fmt(s.dip_depth) : "0 (no dip)",
         absl::StrCat(s.min_step),
         s.recovery_step ? absl::StrCat(*s.recovery_step) : (s.dipped ? "none" : "-"),
         Fmt(s.final_gain), FmtCi(*final_diff)});
  }
  sweep_j["suites"] = suites_j;

  const std::string md = absl::StrCat(
      "## Checkpoint sweep\n\n", "Score: avg@", config.k, " over ", config.n_prompts,
      " prompts per task (mean [95% bootstrap CI over prompts]); length: mean response tokens.\n\n",
      report::MarkdownTable(header, score_rows), "\n### Summary per suite\n\n",
      "Baseline = the first checkpoint; dip depth = baseline - minimum of later checkpoints; "
      "recovery = first checkpoint after the minimum at or above the baseline; final - baseline "
      "is a paired bootstrap over the same prompts and seeds.\n\n",
      report::MarkdownTable({"suite", "baseline", "dip depth", "min step", "recovery step",
                             "final gain", "final - baseline [95% CI]"},
                            summary_rows),
      "\n![score](sweep_score.svg)\n\n![length](sweep_length.svg)\n");
  if (auto st = WriteFileAtomic(out_dir + "/sweep.md", md); !st.ok()) return st;
  if (auto st = WriteJsonFile(out_dir + "/sweep.json", sweep_j); !st.ok()) return st;
  if (auto st = WriteJsonFile(out_dir + "/sweep_summary.json", summary_j); !st.ok()) return st;
  const std::string x_label =
      "training step (log scale; step 0 drawn at half the first nonzero step)";
  report::PlotOptions score_opts{.title = absl::StrCat("avg@", config.k, " vs step (95% CI)"),
                                 .x_label = x_label,
                                 .y_label = absl::StrCat("avg@", config.k),
                                 .log_x = true};
  if (auto st = report::WriteSvg(out_dir + "/sweep_score.svg",
                                 report::LinePlotSvg(score_series, score_opts));
      !st.ok()) {
    return st;
  }
  report::PlotOptions len_opts{.title = "mean response length vs step (95% CI)",
                               .x_label = x_label,
                               .y_label = "tokens",
                               .log_x = true};
  return report::WriteSvg(out_dir + "/sweep_length.svg",
                          report::LinePlotSvg(length_series, len_opts));
}

absl::StatusOr<Json> RunSweep(const std::string& run_dir, const EvalConfig& config,
                              const std::string& out_dir, bool quiet) {
  if (auto s = config.Validate(); !s.ok()) return s;
  auto checkpoints = FindCheckpoints(run_dir);
  if (!checkpoints.ok()) return checkpoints.status();
  if (checkpoints->size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--sweep: ", run_dir, ": one checkpoint (", (*checkpoints)[0].dir,
        "); a sweep needs at least two (use --model for one)"));
  }
  const std::string out = out_dir.empty() ? (fs::path(run_dir) / "eval").string() : out_dir;
  std::vector<int64_t> steps;
  std::vector<EvalResult> results;
  for (size_t i = 0; i < checkpoints->size(); ++i) {
    const Checkpoint& c = (*checkpoints)[i];
    if (!quiet) {
      std::fprintf(stderr, "kiln eval: checkpoint %zu/%zu (step %lld): %s\n", i + 1,
                   checkpoints->size(), static_cast<long long>(c.step), c.dir.c_str());
    }
    auto r = EvaluateModel(c.dir, config, quiet);
    if (!r.ok()) return r.status();
    r->info["step"] = c.step;
    if (auto s = WriteEvalOutputs(*r, absl::StrCat(out, "/step_", c.step)); !s.ok()) return s;
    steps.push_back(c.step);
    results.push_back(std::move(*r));
  }
  if (auto s = WriteSweepOutputs(steps, results, out); !s.ok()) return s;
  return ReadJsonFile(out + "/sweep_summary.json");
}

}  // namespace kiln::eval
