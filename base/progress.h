// A live progress line for long-running commands: step/total, named values (loss, lr...), rate and
// ETA. On a terminal it redraws one line; otherwise it prints a line at most every few seconds so
// logs stay readable.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace kiln {

class Progress {
 public:
  // `unit` names what the rate counts ("tok", "ex").
  Progress(std::string label, int64_t total, std::string unit = "it");
  // `done` steps finished, `units` processed since the start (for the rate).
  void Update(int64_t done, const std::vector<std::pair<std::string, double>>& values,
              double units = -1);
  void Finish();

 private:
  std::string label_, unit_;
  int64_t total_;
  bool tty_;
  std::chrono::steady_clock::time_point start_, last_print_;
  std::string last_line_;
};

}  // namespace kiln
