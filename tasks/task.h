// The one interface every task environment implements: generate an instance from (seed,
// difficulty), render its prompt, write a verified chain-of-thought trace or a short answer-only
// solution, extract and canonicalize an answer from model output, and score a response.
// Instances are a pure function of (task, seed, difficulty); train and eval splits are disjoint by
// a hash of the prompt, so a prompt can never be in both.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/json.h"

namespace kiln::tasks {

struct Instance {
  std::string task;
  int difficulty = 0;
  uint64_t seed = 0;
  Json spec;  // what the task needs to render, solve and score it (numbers, target, rule...)
};

struct Score {
  double reward = 0.0;     // in [0, 1]
  bool correct = false;    // the answer is right
  bool formatted = false;  // the answer was found where the prompt asked for it
};

// How long a chain-of-thought trace is; -1 leaves the task's default (sized for small models).
struct TraceOptions {
  int dead_ends = -1;           // failed branches shown before the one that works (search tasks)
  int tries_per_dead_end = -1;  // attempts shown inside each failed branch
};

enum class Split { kTrain, kEval };

class Task {
 public:
  virtual ~Task() = default;

  virtual std::string name() const = 0;
  virtual int min_difficulty() const = 0;
  virtual int max_difficulty() const = 0;
  // What the difficulty number means for this task, for help texts and errors.
  virtual std::string difficulty_help() const = 0;
  // May this task's traces go into SFT data? (The cross-domain suite never does.)
  virtual bool sft_allowed() const { return false; }

  // Throws kiln::Error for a difficulty outside [min, max]; see CheckDifficulty for flags.
  Instance Generate(uint64_t seed, int difficulty) const;
  virtual std::string Prompt(const Instance& inst) const = 0;
  // A verified chain of thought: "<think>\n...\n</think>\n" and the answer. Every trace is scored
  // (and its arithmetic steps checked) before it is returned; a failure is a kiln bug and throws.
  std::string SolveCot(const Instance& inst, const TraceOptions& options = {}) const;
  // The answer without reasoning (what NoCoT and pretraining mixtures use); also verified.
  std::string ShortSolution(const Instance& inst) const;

  // The answer inside a response: text before the last "</think>" is dropped; by default the
  // content of the last <answer>...</answer>, trimmed. nullopt when there is none.
  virtual std::optional<std::string> ExtractAnswer(const std::string& response) const;
  // A canonical form so that equivalent answers count as one in majority voting.
  virtual std::string Canonical(const Instance& inst, const std::string& answer) const;
  virtual Score ScoreResponse(const Instance& inst, const std::string& response) const = 0;

 protected:
  virtual Json MakeSpec(uint64_t seed, int difficulty) const = 0;
  virtual std::string WriteCot(const Instance& inst, const TraceOptions& options) const = 0;
  virtual std::string WriteShort(const Instance& inst) const = 0;
};

// All registered task names, in a fixed order.
std::vector<std::string> TaskNames();
// "unknown task 'x' (known: countdown, ...)" for an unknown name.
absl::StatusOr<std::unique_ptr<Task>> MakeTask(const std::string& name);
// An error naming the task, the offending difficulty and the allowed range.
absl::Status CheckDifficulty(const Task& task, int difficulty);

// Which split a prompt belongs to: about 10% of prompts (by a hash of the text) are evaluation.
Split SplitOf(const std::string& task, const std::string& prompt);
// Instance `index` of a set with seed `seed`: a pure function of (seed, index), drawn again
// (deterministically) until its prompt falls in `split`.
Instance GenerateInSplit(const Task& task, uint64_t seed, uint64_t index, int difficulty,
                         Split split);

// Helpers for responses.
std::string Trim(const std::string& s);
std::string AfterLastThink(const std::string& response);
std::optional<std::string> LastAnswerTag(const std::string& text);
// "<answer> x </answer>".
std::string AnswerTag(const std::string& answer);
// "<think>\n" + body + "</think>\n" + tail.
std::string ThinkThen(const std::string& body, const std::string& tail);
uint64_t HashString(const std::string& s, uint64_t seed = 0);

}  // namespace kiln::tasks
