// Dataset records and builders: make (the SFT variants), the teacher slot and the pretraining
// mixture. Each record is built from (seed, index) alone, so records are computed in parallel and
// the file is the same bytes whatever the thread count.
#include "data/dataset.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <exception>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/check.h"
#include "base/file.h"
#include "base/rng.h"
#include "base/thread_pool.h"
#include "tasks/arith.h"

namespace kiln::data {
namespace {

// Counter streams of Philox(seed, index, stream) used per record, apart from instance draws
// (which use streams 1..attempts, see tasks::GenerateInSplit).
constexpr uint64_t kLevelStream = 1ull << 40;
constexpr uint64_t kLowqStream = (1ull << 40) + 1;
constexpr uint64_t kMixStream = (1ull << 40) + 2;
constexpr uint64_t kTeacherStream = (1ull << 40) + 3;

const char* const kDefects[] = {"slip", "truncated", "shuffled", "short"};

uint64_t Draw(uint64_t seed, uint64_t index, uint64_t stream) {
  auto b = Philox(seed, index, stream);
  return (static_cast<uint64_t>(b.v[0]) << 32) | b.v[1];
}

int PickLevel(const tasks::Task& t, int difficulty, uint64_t seed, uint64_t index) {
  if (difficulty != 0) return difficulty;
  uint64_t range = static_cast<uint64_t>(t.max_difficulty() - t.min_difficulty() + 1);
  return t.min_difficulty() + static_cast<int>(Draw(seed, index, kLevelStream) % range);
}

std::string WithoutThink(const std::string& cot) {
  static const std::string kClose = "</think>";
  size_t p = cot.rfind(kClose);
  if (p == std::string::npos) return cot;
  return tasks::Trim(cot.substr(p + kClose.size()));
}

// Runs build(i) for i in [0, n) on all threads; the first error (by index) wins.
absl::StatusOr<std::vector<Record>> BuildAll(int64_t n,
                                             const std::function<Record(int64_t)>& build) {
  std::vector<Record> out(n);
  std::vector<std::string> errors(n);
  kiln::ParallelFor(n, 64, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      try {
        out[i] = build(i);
      } catch (const std::exception& e) {
        errors[i] = e.what();
      }
    }
  });
  for (int64_t i = 0; i < n; ++i) {
    if (!errors[i].empty()) {
      return absl::InternalError(absl::StrCat("record ", i, ": ", errors[i]));
    }
  }
  return out;
}

absl::Status Prefixed(const char* flag, const absl::Status& s) {
  return absl::InvalidArgumentError(absl::StrCat(flag, ": ", s.message()));
}

struct Checked {
  std::unique_ptr<tasks::Task> task;
  tasks::Split split;
};

absl::StatusOr<Checked> CheckOptions(const MakeOptions& o) {
  auto task = tasks::MakeTask(o.task);
  if (!task.ok()) return Prefixed("--task", task.status());
  if (o.difficulty != 0) {
    if (auto s = tasks::CheckDifficulty(**task, o.difficulty); !s.ok()) {
      return Prefixed("--difficulty", s);
    }
  }
  if (o.n <= 0)
    return absl::InvalidArgumentError(absl::StrCat("--n: expected a positive count, got ", o.n));
  auto names = VariantNames();
  if (std::find(names.begin(), names.end(), o.variant) == names.end()) {
    return absl::InvalidArgumentError(absl::StrCat("--variant: unknown variant '", o.variant,
                                                   "' (known: cot, nocot, lowq, short, teacher)"));
  }
  if (o.split != "train" && o.split != "eval") {
    return absl::InvalidArgumentError(
        absl::StrCat("--split: expected train or eval, got '", o.split, "'"));
  }
  if (!(o.low_quality_rate >= 0.0 && o.low_quality_rate <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--low-quality-rate: expected a value in [0, 1], got ", o.low_quality_rate));
  }
  bool sft_variant = o.variant == "cot" || o.variant == "nocot" || o.variant == "lowq";
  if (sft_variant && o.split == "train" && !(*task)->sft_allowed()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--task: '", o.task,
                     "' is an evaluation domain and never goes into SFT training data "
                     "(use --split eval, or --variant short / kiln data mix for pretraining)"));
  }
  return Checked{std::move(*task), o.split == "eval" ? tasks::Split::kEval : tasks::Split::kTrain};
}

}  // namespace

Json RecordToJson(const Record& r) {
  Json j{{"prompt", r.prompt},   {"response", r.response},
         {"task", r.task},       {"difficulty", r.difficulty},
         {"variant", r.variant}, {"verified", r.verified},
         {"seed", r.seed}};
  if (!r.defect.empty()) j["defect"] = r.defect;
  return j;
}

absl::StatusOr<Record> RecordFromJson(const Json& j, const std::string& where) {
  Record r;
  auto prompt = GetField<std::string>(j, "prompt", where);
  if (!prompt.ok()) return prompt.status();
  auto response = GetField<std::string>(j, "response", where);
  if (!response.ok()) return response.status();
  auto task = GetField<std::string>(j, "task", where);
  if (!task.ok()) return task.status();
  auto difficulty = GetFieldOr<int>(j, "difficulty", where, 0);
  if (!difficulty.ok()) return difficulty.status();
  auto variant = GetFieldOr<std::string>(j, "variant", where, "");
  if (!variant.ok()) return variant.status();
  auto verified = GetFieldOr<bool>(j, "verified", where, false);
  if (!verified.ok()) return verified.status();
  auto defect = GetFieldOr<std::string>(j, "defect", where, "");
  if (!defect.ok()) return defect.status();
  if (j.contains("seed")) {
    const Json& s = j["seed"];
    if (!s.is_number_unsigned() && !(s.is_number_integer() && s.get<int64_t>() >= 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": field 'seed': expected a non-negative integer, got ", s.dump()));
    }
    r.seed = s.get<uint64_t>();
  }
  r.prompt = *prompt;
  r.response = *response;
  r.task = *task;
  r.difficulty = *difficulty;
  r.variant = *variant;
  r.verified = *verified;
  r.defect = *defect;
  return r;
}

absl::StatusOr<std::vector<Record>> ReadRecords(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  std::vector<Record> out;
  std::istringstream in(*text);
  std::string line;
  for (int64_t lineno = 1; std::getline(in, line); ++lineno) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    std::string where = absl::StrCat(path, ":", lineno);
    auto j = ParseJson(line, where);
    if (!j.ok()) return j.status();
    auto r = RecordFromJson(*j, where);
    if (!r.ok()) return r.status();
    out.push_back(std::move(*r));
  }
  return out;
}

absl::Status WriteRecords(const std::string& path, const std::vector<Record>& records) {
  std::string text;
  for (const auto& r : records) {
    text += RecordToJson(r).dump();
    text += '\n';
  }
  return WriteFileAtomic(path, text);
}

std::vector<std::string> VariantNames() { return {"cot", "nocot", "lowq", "short", "teacher"}; }

std::string MakeDefect(const std::string& defect, const std::string& cot,
                       const std::string& short_solution, uint64_t seed) {
  RngStream rng(seed);
  size_t open = cot.find("<think>\n"), close = cot.rfind("</think>");
  KILN_CHECK(open == 0 && close != std::string::npos) << "MakeDefect: not a CoT response: " << cot;
  std::string body = cot.substr(8, close - 8), tail = cot.substr(close);
  if (defect == "slip") {
    // Results of steps "a op b=c": change one c by 1..3 so the step is wrong.
    std::vector<size_t> spots;
    for (size_t p = 1; p + 1 < body.size(); ++p) {
      if (body[p] == '=' && std::isdigit(static_cast<unsigned char>(body[p + 1])) &&
          (std::isdigit(static_cast<unsigned char>(body[p - 1])) || body[p - 1] == ')')) {
        spots.push_back(p + 1);
      }
    }
    for (size_t tries = 0; tries < spots.size(); ++tries) {
      size_t start = spots[rng.UniformInt(spots.size())], end = start;
      while (end < body.size() && std::isdigit(static_cast<unsigned char>(body[end]))) ++end;
      if (end - start > 15) continue;
      int64_t v = std::stoll(body.substr(start, end - start));
      int64_t delta = 1 + static_cast<int64_t>(rng.UniformInt(3));
      int64_t slipped = (v >= delta && rng.UniformInt(2) == 0) ? v - delta : v + delta;
      std::string out = body.substr(0, start) + absl::StrCat(slipped) + body.substr(end);
      if (!tasks::CheckStepArithmetic(out)) return "<think>\n" + out + tail;
    }
    return MakeDefect("truncated", cot, short_solution, seed);  // no step to slip
  }
  if (defect == "truncated") {
    size_t lo = body.size() * 3 / 10, hi = body.size() * 9 / 10;
    size_t cut = lo + (hi > lo ? rng.UniformInt(hi - lo) : 0);
    return "<think>\n" + body.substr(0, cut);
  }
  if (defect == "shuffled") {
    std::vector<std::string> lines = absl::StrSplit(body, '\n', absl::SkipEmpty());
    auto original = lines;
    for (size_t i = lines.size(); i > 1; --i) std::swap(lines[i - 1], lines[rng.UniformInt(i)]);
    if (lines == original && lines.size() > 1)
      std::rotate(lines.begin(), lines.begin() + 1, lines.end());
    std::string out;
    for (const auto& l : lines) absl::StrAppend(&out, l, "\n");
    return "<think>\n" + out + tail;
  }
  KILN_CHECK(defect == "short") << "MakeDefect: unknown defect '" << defect << "'";
  return short_solution;
}

absl::StatusOr<std::vector<Record>> MakeDataset(const MakeOptions& o) {
  auto checked = CheckOptions(o);
  if (!checked.ok()) return checked.status();
  if (o.variant == "teacher") {
    return absl::InvalidArgumentError(
        "--variant: 'teacher' records are sampled from a kiln teacher model and kept when "
        "verified (MakeTeacherDataset); `kiln data make` has no model to sample from");
  }
  const tasks::Task& task = *checked->task;
  return BuildAll(o.n, [&](int64_t i) {
    int level = PickLevel(task, o.difficulty, o.seed, i);
    tasks::Instance inst = tasks::GenerateInSplit(task, o.seed, i, level, checked->split);
    Record r{task.Prompt(inst), "", task.name(), level, o.variant, true, inst.seed, ""};
    if (o.variant == "short") {
      r.response = task.ShortSolution(inst);
      return r;
    }
    std::string cot = task.SolveCot(inst, o.trace);
    if (o.variant == "cot") {
      r.response = cot;
    } else if (o.variant == "nocot") {
      r.response = WithoutThink(cot);
    } else {  // lowq
      double u = static_cast<double>(Draw(o.seed, i, kLowqStream) >> 11) * 0x1p-53;
      r.response = cot;
      if (u < o.low_quality_rate) {
        uint64_t pick = Draw(o.seed, i, kLowqStream + 16);
        r.defect = kDefects[pick % 4];
        r.response = MakeDefect(r.defect, cot, task.ShortSolution(inst), pick);
        r.verified = false;
      }
    }
    return r;
  });
}

absl::StatusOr<std::vector<Record>> MakeTeacherDataset(const MakeOptions& options,
                                                       const SampleFn& sample, int k,
                                                       int64_t* dropped, TeacherStats* stats,
                                                       bool keep_all) {
  MakeOptions o = options;
  o.variant = "cot";  // the same SFT-eligibility checks as CoT data
  auto checked = CheckOptions(o);
  if (!checked.ok()) return checked.status();
  KILN_CHECK(k > 0) << "MakeTeacherDataset: k must be positive, got " << k;
  const tasks::Task& task = *checked->task;
  std::vector<Record> out;
  int64_t lost = 0;
  TeacherStats st;
  for (int64_t i = 0; i < o.n; ++i) {  // sequential: the sampler owns the model
    int level = PickLevel(task, o.difficulty, o.seed, i);
    tasks::Instance inst = tasks::GenerateInSplit(task, o.seed, i, level, checked->split);
    std::string prompt = task.Prompt(inst);
    std::vector<std::string> good;
    ++st.prompts;
    for (const auto& resp : sample(prompt, k, Draw(o.seed, i, kTeacherStream))) {
      ++st.samples;
      if (task.ScoreResponse(inst, resp).correct) {
        ++st.verified_samples;
        good.push_back(resp);
      }
    }
    if (good.empty()) {
      ++lost;
      continue;
    }
    ++st.prompts_with_verified;
    if (keep_all) {
      std::set<std::string> seen;
      for (const std::string& g : good) {
        if (seen.insert(g).second) {
          out.push_back({prompt, g, task.name(), level, "teacher", true, inst.seed, ""});
        }
      }
      continue;
    }
    const std::string& pick = good[Draw(o.seed, i, kTeacherStream + 1) % good.size()];
    out.push_back({prompt, pick, task.name(), level, "teacher", true, inst.seed, ""});
  }
  st.records = static_cast<int64_t>(out.size());
  if (dropped) *dropped = lost;
  if (stats) *stats = st;
  return out;
}

absl::StatusOr<std::vector<MixSource>> ParseMixSources(const std::string& spec) {
  std::vector<MixSource> out;
  std::vector<std::string> items = absl::StrSplit(spec, ',', absl::SkipWhitespace());
  for (const std::string& item : items) {
    MixSource src;
    std::string name = item;
    size_t eq = item.find('=');
    if (eq != std::string::npos) {
      name = item.substr(0, eq);
      std::string w = item.substr(eq + 1);
      if (!absl::SimpleAtod(w, &src.weight) || !(src.weight > 0) || !std::isfinite(src.weight)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--sources: '", item, "': weight must be a positive number, got '", w, "'"));
      }
    }
    size_t colon = name.find(':');
    if (colon != std::string::npos) {
      std::string d = name.substr(colon + 1);
      name = name.substr(0, colon);
      if (!absl::SimpleAtoi(d, &src.difficulty)) {
        return absl::InvalidArgumentError(
            absl::StrCat("--sources: '", item, "': difficulty must be an integer, got '", d, "'"));
      }
    }
    src.task = std::string(absl::StripAsciiWhitespace(name));
    auto task = tasks::MakeTask(src.task);
    if (!task.ok()) return Prefixed("--sources", task.status());
    if (src.difficulty != 0) {
      if (auto s = tasks::CheckDifficulty(**task, src.difficulty); !s.ok()) {
        return Prefixed("--sources", s);
      }
    }
    out.push_back(src);
  }
  if (out.empty()) return absl::InvalidArgumentError("--sources: no sources given");
  return out;
}

absl::StatusOr<std::vector<Record>> MakeMixture(const std::vector<MixSource>& sources, int64_t n,
                                                uint64_t seed) {
  if (n <= 0)
    return absl::InvalidArgumentError(absl::StrCat("--n: expected a positive count, got ", n));
  KILN_CHECK(!sources.empty()) << "MakeMixture: no sources";
  std::vector<std::unique_ptr<tasks::Task>> ts;
  double total = 0;
  for (const auto& s : sources) {
    auto t = tasks::MakeTask(s.task);
    if (!t.ok()) return Prefixed("--sources", t.status());
    ts.push_back(std::move(*t));
    total += s.weight;
  }
  return BuildAll(n, [&](int64_t i) {
    double u = static_cast<double>(Draw(seed, i, kMixStream) >> 11) * 0x1p-53 * total;
    size_t k = 0;
    for (double acc = sources[0].weight; k + 1 < sources.size() && u >= acc;)
      acc += sources[++k].weight;
    const tasks::Task& task = *ts[k];
    int level = PickLevel(task, sources[k].difficulty, seed, i);
    tasks::Instance inst = tasks::GenerateInSplit(task, seed, i, level, tasks::Split::kTrain);
    return Record{task.Prompt(inst), task.ShortSolution(inst),
                  task.name(),       level,
                  "short",           true,
                  inst.seed,         ""};
  });
}

}  // namespace kiln::data
