// The Task base: difficulty checks, verification of every emitted solution, answer extraction,
// splits and the task registry.
#include "tasks/task.h"

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/rng.h"
#include "tasks/arith.h"
#include "tasks/countdown.h"
#include "tasks/cross_domain.h"
#include "tasks/instruction.h"
#include "tasks/safety.h"

namespace kiln::tasks {

Instance Task::Generate(uint64_t seed, int difficulty) const {
  auto s = CheckDifficulty(*this, difficulty);
  KILN_CHECK(s.ok()) << s.message();
  return {name(), difficulty, seed, MakeSpec(seed, difficulty)};
}

std::string Task::SolveCot(const Instance& inst, const TraceOptions& options) const {
  std::string r = WriteCot(inst, options);
  Score sc = ScoreResponse(inst, r);
  KILN_CHECK(sc.correct && sc.formatted && CheckStepArithmetic(r))
      << "internal error: " << name() << " seed " << inst.seed << ": trace failed verification:\n"
      << r;
  return r;
}

std::string Task::ShortSolution(const Instance& inst) const {
  std::string r = WriteShort(inst);
  KILN_CHECK(ScoreResponse(inst, r).correct) << "internal error: " << name() << " seed "
                                             << inst.seed << ": short solution is wrong: " << r;
  return r;
}

std::optional<std::string> Task::ExtractAnswer(const std::string& response) const {
  return LastAnswerTag(AfterLastThink(response));
}

std::string Task::Canonical(const Instance&, const std::string& answer) const {
  // Collapse whitespace runs; lower-case.
  std::string out;
  bool space = false;
  for (char c : Trim(answer)) {
    bool is_space = c == ' ' || c == '\t' || c == '\n' || c == '\r';
    if (is_space) {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return out;
}

std::vector<std::string> TaskNames() {
  return {"countdown", "general_points", "general_points_ood", "arithmetic",  "linear_equation",
          "sorting",   "shortest_path",  "boolean_logic",      "instruction", "safety"};
}

absl::StatusOr<std::unique_ptr<Task>> MakeTask(const std::string& name) {
  if (name == "countdown") return MakeCountdown();
  if (name == "general_points") return MakeGeneralPoints(/*face_as_ten=*/true);
  if (name == "general_points_ood") return MakeGeneralPoints(/*face_as_ten=*/false);
  if (auto t = MakeCrossDomainTask(name)) return t;
  if (name == "instruction") return MakeInstructionTask();
  if (name == "safety") return MakeSafetyTask();
  std::string known;
  for (const auto& n : TaskNames()) absl::StrAppend(&known, known.empty() ? "" : ", ", n);
  return absl::InvalidArgumentError(absl::StrCat("unknown task '", name, "' (known: ", known, ")"));
}

absl::Status CheckDifficulty(const Task& task, int difficulty) {
  if (difficulty >= task.min_difficulty() && difficulty <= task.max_difficulty()) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "task '", task.name(), "': difficulty ", difficulty, " is out of range [",
      task.min_difficulty(), ", ", task.max_difficulty(), "] (", task.difficulty_help(), ")"));
}

uint64_t HashString(const std::string& s, uint64_t seed) {
  uint64_t h = 1469598103934665603ull ^ seed;  // FNV-1a, then one Philox round for mixing
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  auto b = Philox(h, 0x5eed);
  return (static_cast<uint64_t>(b.v[0]) << 32) | b.v[1];
}

Split SplitOf(const std::string& task, const std::string& prompt) {
  return HashString(prompt, HashString(task)) % 10 == 0 ? Split::kEval : Split::kTrain;
}

Instance GenerateInSplit(const Task& task, uint64_t seed, uint64_t index, int difficulty,
                         Split split) {
  for (uint64_t attempt = 0;; ++attempt) {
    KILN_CHECK(attempt < 10000) << "GenerateInSplit: " << task.name()
                                << " found no prompt in the split after 10000 draws";
    auto b = Philox(seed, index, attempt + 1);
    uint64_t inst_seed = (static_cast<uint64_t>(b.v[0]) << 32) | b.v[1];
    Instance inst = task.Generate(inst_seed, difficulty);
    if (SplitOf(task.name(), task.Prompt(inst)) == split) return inst;
  }
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\n\r\f\v");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\n\r\f\v");
  return s.substr(b, e - b + 1);
}

std::string AfterLastThink(const std::string& response) {
  static const std::string kClose = "</think>";
  size_t p = response.rfind(kClose);
  return p == std::string::npos ? response : response.substr(p + kClose.size());
}

std::optional<std::string> LastAnswerTag(const std::string& text) {
  static const std::string kOpen = "<answer>", kClose = "</answer>";
  std::optional<std::string> last;
  size_t pos = 0;
  // Same matches as TinyZero's non-greedy re.finditer("<answer>(.*?)</answer>"), keeping the last.
  while (true) {
    size_t o = text.find(kOpen, pos);
    if (o == std::string::npos) break;
    size_t c = text.find(kClose, o + kOpen.size());
    if (c == std::string::npos) break;
    last = Trim(text.substr(o + kOpen.size(), c - o - kOpen.size()));
    pos = c + kClose.size();
  }
  return last;
}

std::string AnswerTag(const std::string& answer) {
  return absl::StrCat("<answer> ", answer, " </answer>");
}

std::string ThinkThen(const std::string& body, const std::string& tail) {
  return absl::StrCat("<think>\n", body, "</think>\n", tail);
}

}  // namespace kiln::tasks
