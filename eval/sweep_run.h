// Checkpoint sweeps (`kiln eval --sweep RUN_DIR`, docs/eval.md): evaluate every checkpoint of a
// `kiln sft` run with the same prompts and seeds, then write a table, plots and a summary per
// suite (baseline, dip, recovery, final gain, paired differences with paired bootstrap CIs).
//
// Layout read: RUN_DIR/checkpoints/step_<N>/ (N a plain non-negative integer), each a model folder
// nn::LoadModel reads, with kiln_tokenizer.json. Other entries are ignored.
// Files written into OUT (fixed names; `kiln demo` embeds sweep.md and the SVGs):
//   step_<N>/results.json, step_<N>/samples.jsonl   one evaluation per checkpoint
//   sweep.md            Markdown: score table (avg@k with 95% CI per suite) and summary table
//   sweep.json          per suite and checkpoint: every aggregate metric with its interval
//   sweep_summary.json  per suite: SummarizeSweep + paired differences
//   sweep_score.svg     avg@k vs step (log axis), one line per suite, CI bands
//   sweep_length.svg    mean response length (tokens) vs step, one line per suite, CI bands
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/json.h"
#include "eval/evaluate.h"

namespace kiln::eval {

struct Checkpoint {
  int64_t step = 0;
  std::string dir;
};
// The run's checkpoints sorted by step; an error when RUN_DIR/checkpoints holds none.
absl::StatusOr<std::vector<Checkpoint>> FindCheckpoints(const std::string& run_dir);

// Where step 0 is drawn on the log-spaced step axis: half the smallest positive step (1 when
// there is none); positive steps are drawn where they are.
double PlotStep(int64_t step, const std::vector<int64_t>& steps);

// The table, JSON files and plots from evaluations already made (results[i] at steps[i], steps
// strictly increasing, at least two, same suites and prompts).
absl::Status WriteSweepOutputs(const std::vector<int64_t>& steps,
                               const std::vector<EvalResult>& results, const std::string& out_dir);

// Evaluates every checkpoint of run_dir with `config` and writes everything into out_dir (default
// run_dir/eval when empty). Returns the sweep summary JSON (what sweep_summary.json holds).
absl::StatusOr<Json> RunSweep(const std::string& run_dir, const EvalConfig& config,
                              const std::string& out_dir = "", bool quiet = false);

}  // namespace kiln::eval
