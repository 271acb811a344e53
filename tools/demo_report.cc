#include "tools/demo_report.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "base/file.h"
#include "report/table.h"

namespace kiln::tools {
namespace {

std::string Num(double v) { return absl::StrFormat("%.4g", v); }

std::string Interval(const Json& j) {
  if (!j.is_object() || !j.contains("mean")) return "-";
  return absl::StrFormat("%+.3f [%+.3f, %+.3f]", j.value("mean", 0.0), j.value("lo", 0.0),
                         j.value("hi", 0.0));
}

// Last train loss and every validation loss of a run's metrics.jsonl.
struct LossFacts {
  double first_loss = 0, last_loss = 0;
  int64_t last_step = 0;
  std::vector<std::pair<int64_t, double>> val;
};

absl::StatusOr<LossFacts> ReadLosses(const std::string& path) {
  auto recs = ReadJsonl(path);
  if (!recs.ok()) return recs.status();
  LossFacts f;
  bool first = true;
  for (const auto& r : *recs) {
    const std::string type = r.value("type", "");
    if (type == "train") {
      if (first) f.first_loss = r.value("loss", 0.0);
      first = false;
      f.last_loss = r.value("loss", 0.0);
      f.last_step = r.value("step", int64_t{0});
    } else if (type == "val") {
      f.val.push_back({r.value("step", int64_t{0}), r.value("val_loss", 0.0)});
    }
  }
  if (first) return absl::InvalidArgumentError(absl::StrCat(path, ": no train records"));
  return f;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> HeadlineLines(const Json& summary) {
  if (!summary.is_object() || summary.empty()) {
    return absl::InvalidArgumentError("sweep summary: no suites");
  }
  std::vector<std::string> lines;
  for (const auto& [suite, s] : summary.items()) {
    std::string dip = s.value("dipped", false)
                          ? absl::StrCat("dip ", Num(s.value("dip_depth", 0.0)), " at step ",
                                         s.value("min_step", int64_t{0}), ", ",
                                         s["recovery_step"].is_null()
                                             ? std::string("no recovery")
                                             : absl::StrCat("recovered at step ",
                                                            s["recovery_step"].get<int64_t>()))
                          : std::string("no dip");
    lines.push_back(absl::StrCat(suite, ": avg@k ", Num(s.value("baseline", 0.0)), " (step ",
                                 s.value("baseline_step", int64_t{0}), ") -> ",
                                 Num(s.value("final_score", 0.0)), " (step ",
                                 s.value("final_step", int64_t{0}), "), final - baseline ",
                                 Interval(s.value("final_vs_baseline", Json())), "; ", dip));
  }
  return lines;
}

absl::Status WriteDemoReport(const DemoFacts& f) {
  const std::string root = f.out_dir + "/";
  auto pre = ReadLosses(root + f.pretrain_dir + "/metrics.jsonl");
  if (!pre.ok()) return pre.status();
  auto sft = ReadLosses(root + f.sft_dir + "/metrics.jsonl");
  if (!sft.ok()) return sft.status();
  auto sweep_md = ReadFile(root + f.sweep_dir + "/sweep.md");
  if (!sweep_md.ok()) return sweep_md.status();
  auto summary = ReadJsonFile(root + f.sweep_dir + "/sweep_summary.json");
  if (!summary.ok()) return summary.status();
  auto headline = HeadlineLines(*summary);
  if (!headline.ok()) return headline.status();

  std::string md = "# kiln demo: SFT on verified Countdown CoT, evaluated over checkpoints\n\n";
  absl::StrAppend(
      &md,
      "What this run did, end to end on the CPU: made the data with the task generators, "
      "pretrained a small randomly initialized GPT-2 on a mixture of short answers over every "
      "task (plus refusals), fine-tuned it on verified Countdown chain-of-thought traces with "
      "checkpoints on a log-spaced schedule, and evaluated every checkpoint with the same prompts "
      "and seeds in-domain (Countdown), cross-domain (tasks never in the SFT data), on "
      "instruction following and on safety. The numbers below are what this run measured, "
      "with 95% bootstrap intervals over prompts; at this size and budget they may show the "
      "study's dip and recovery or not, and the report does not assume either.\n\n");

  absl::StrAppend(&md, "## Headline (avg@k, first vs last checkpoint)\n\n");
  for (const auto& l : *headline) absl::StrAppend(&md, "- ", l, "\n");

  absl::StrAppend(&md, "\n## Setup\n\n```json\n", f.setup.dump(2), "\n```\n\n");

  std::vector<std::vector<std::string>> rows;
  double total = 0;
  for (const auto& s : f.stages) {
    rows.push_back({s.name, absl::StrFormat("%.1f", s.seconds)});
    total += s.seconds;
  }
  rows.push_back({"total", absl::StrFormat("%.1f", total)});
  absl::StrAppend(&md, "## Wall time (s)\n\n", report::MarkdownTable({"stage", "seconds"}, rows),
                  "\n");

  absl::StrAppend(&md, "## Pretraining\n\n", "Train loss ", Num(pre->first_loss), " (step 1) -> ",
                  Num(pre->last_loss), " (step ", pre->last_step, ").\n\n![pretraining loss](",
                  f.pretrain_dir, "/loss.svg)\n\n");
  absl::StrAppend(&md, "## SFT\n\n", "Train loss ", Num(sft->first_loss), " (step 1) -> ",
                  Num(sft->last_loss), " (step ", sft->last_step, ").");
  if (!sft->val.empty()) {
    std::vector<std::vector<std::string>> vrows;
    for (const auto& [step, loss] : sft->val) vrows.push_back({absl::StrCat(step), Num(loss)});
    absl::StrAppend(&md, " Held-out loss at each checkpoint:\n\n",
                    report::MarkdownTable({"step", "val loss"}, vrows));
  }
  absl::StrAppend(&md, "\n![SFT loss](", f.sft_dir, "/loss.svg)\n\n");

  // sweep.md links its plots relative to its own folder; here they sit under sweep_dir.
  absl::StrAppend(&md, absl::StrReplaceAll(*sweep_md, {{"](sweep_", absl::StrCat("](", f.sweep_dir,
                                                                                  "/sweep_")}}));
  absl::StrAppend(&md, "\nPer-sample outputs (prompt, response, extracted answer, score): ",
                  f.sweep_dir, "/step_<N>/samples.jsonl; metrics and seeds: ", f.sweep_dir,
                  "/step_<N>/results.json.\n");
  return WriteFileAtomic(root + "report.md", md);
}

}  // namespace kiln::tools
