// The report `kiln demo` writes: one Markdown file that says what the run measured (setup, the
// losses, the sweep's table and plots, a per-suite summary), built from the files the stages left.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "base/json.h"

namespace kiln::tools {

struct DemoStage {
  std::string name;      // "data", "pretrain", ...
  double seconds = 0;    // wall time
};

struct DemoFacts {
  std::string out_dir;             // the demo's folder; paths below are relative to it
  Json setup;                      // what ran: model, data sizes, steps, seeds, eval settings
  std::vector<DemoStage> stages;
  std::string pretrain_dir;        // "pretrain" (metrics.jsonl, loss.svg)
  std::string sft_dir;             // "sft" (metrics.jsonl, loss.svg, checkpoints/)
  std::string sweep_dir;           // "sft/eval" (sweep.md, sweep_summary.json, SVGs)
};

// Writes <out_dir>/report.md (atomically). Reads the stages' files; an unreadable one is an
// error naming it.
absl::Status WriteDemoReport(const DemoFacts& facts);

// One line per suite for the terminal: "countdown: 0.05 -> 0.12 (gain +0.07 [..], dip ..)".
absl::StatusOr<std::vector<std::string>> HeadlineLines(const Json& sweep_summary);

}  // namespace kiln::tools
