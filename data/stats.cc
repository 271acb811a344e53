// Dataset statistics, the response-length histogram and the train/eval prompt overlap check.
#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "data/chat_template.h"
#include "data/dataset.h"
#include "report/plot.h"

namespace kiln::data {

LengthStats ComputeLengthStats(std::vector<double> v) {
  LengthStats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  // Nearest-rank percentiles: always a value that occurs in the data.
  auto rank = [&](double q) {
    size_t r = static_cast<size_t>(std::ceil(q * v.size()));
    return v[std::clamp<size_t>(r, 1, v.size()) - 1];
  };
  s.mean = sum / v.size();
  s.p50 = rank(0.5);
  s.p95 = rank(0.95);
  s.max = v.back();
  return s;
}

DatasetStats ComputeStats(const std::vector<Record>& records, const Tokenizer& tok) {
  DatasetStats s;
  std::vector<double> pc, rc, rt, et;
  int64_t prompt_overhead = static_cast<int64_t>(GenerationPrompt(tok, "").size());
  for (const auto& r : records) {
    ++s.n;
    s.verified += r.verified;
    ++s.by_task[r.task];
    ++s.by_variant[r.variant];
    ++s.by_difficulty[absl::StrCat(r.task, ":", r.difficulty)];
    size_t p_tok = tok.Encode(r.prompt).size(), r_tok = tok.Encode(r.response).size() + 1;  // + EOS
    pc.push_back(r.prompt.size());
    rc.push_back(r.response.size());
    rt.push_back(r_tok);
    et.push_back(prompt_overhead + p_tok + r_tok);
  }
  s.prompt_chars = ComputeLengthStats(pc);
  s.response_chars = ComputeLengthStats(rc);
  s.response_tokens = ComputeLengthStats(rt);
  s.example_tokens = ComputeLengthStats(et);
  s.response_token_lengths = std::move(rt);
  return s;
}

Json StatsToJson(const DatasetStats& s) {
  auto len = [](const LengthStats& l) {
    return Json{{"mean", l.mean}, {"p50", l.p50}, {"p95", l.p95}, {"max", l.max}};
  };
  return Json{{"n", s.n},
              {"verified", s.verified},
              {"by_task", s.by_task},
              {"by_variant", s.by_variant},
              {"by_difficulty", s.by_difficulty},
              {"prompt_chars", len(s.prompt_chars)},
              {"response_chars", len(s.response_chars)},
              {"response_tokens", len(s.response_tokens)},
              {"example_tokens", len(s.example_tokens)}};
}

std::string LengthHistogramSvg(const DatasetStats& s, const std::string& title) {
  report::PlotOptions o;
  o.title = title;
  o.x_label = "response length (tokens, incl. EOS)";
  o.y_label = "examples";
  return report::HistogramSvg(s.response_token_lengths, 40, o);
}

namespace {

// Prompts with their line numbers (the overlap report points at the eval line).
absl::Status ReadPrompts(const std::string& path,
                         std::vector<std::pair<int64_t, std::string>>* out) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  std::istringstream in(*text);
  std::string line;
  for (int64_t lineno = 1; std::getline(in, line); ++lineno) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string where = absl::StrCat(path, ":", lineno);
    auto j = ParseJson(line, where);
    if (!j.ok()) return j.status();
    auto p = GetField<std::string>(*j, "prompt", where);
    if (!p.ok()) return p.status();
    out->push_back({lineno, std::move(*p)});
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<OverlapReport> CheckSplit(const std::vector<std::string>& train_files,
                                         const std::vector<std::string>& eval_files) {
  OverlapReport rep;
  std::set<std::string> train;
  for (const auto& f : train_files) {
    std::vector<std::pair<int64_t, std::string>> ps;
    if (auto s = ReadPrompts(f, &ps); !s.ok()) return s;
    for (auto& [line, p] : ps) train.insert(std::move(p));
    rep.train_prompts += static_cast<int64_t>(ps.size());
  }
  for (const auto& f : eval_files) {
    std::vector<std::pair<int64_t, std::string>> ps;
    if (auto s = ReadPrompts(f, &ps); !s.ok()) return s;
    rep.eval_prompts += static_cast<int64_t>(ps.size());
    for (const auto& [line, p] : ps) {
      if (train.count(p)) {
        rep.overlapping.push_back(absl::StrCat(f, ":", line, ": ", p.substr(0, 60)));
      }
    }
  }
  return rep;
}

}  // namespace kiln::data
