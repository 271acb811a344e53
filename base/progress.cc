#include "base/progress.h"

#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_format.h"

namespace kiln {

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total), tty_(isatty(2)) {
  start_ = last_print_ = std::chrono::steady_clock::now();
}

void Progress::Update(int64_t done, const std::vector<std::pair<std::string, double>>& values,
                      double units) {
  auto now = std::chrono::steady_clock::now();
  double elapsed = std::chrono::duration<double>(now - start_).count();
  double since = std::chrono::duration<double>(now - last_print_).count();
  bool last = done >= total_;
  if (!last && since < (tty_ ? 0.1 : 5.0) && done > 1) return;
  last_print_ = now;
  std::string line = absl::StrFormat("%s %lld/%lld", label_, static_cast<long long>(done),
                                     static_cast<long long>(total_));
  for (const auto& [name, v] : values) line += absl::StrFormat(" %s %.4g", name, v);
  if (elapsed > 0) {
    double rate = (units >= 0 ? units : static_cast<double>(done)) / elapsed;
    line += absl::StrFormat(" | %.1f %s/s", rate, units >= 0 ? unit_ : std::string("it"));
    if (done > 0 && total_ > done) {
      double eta = elapsed / static_cast<double>(done) * static_cast<double>(total_ - done);
      line += absl::StrFormat(" | ETA %.0fs", eta);
    }
    line += absl::StrFormat(" | %.1fs", elapsed);
  }
  last_line_ = line;
  if (tty_) {
    std::fprintf(stderr, "\r\033[K%s", line.c_str());
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
  std::fflush(stderr);
}

void Progress::Finish() {
  if (tty_ && !last_line_.empty()) std::fprintf(stderr, "\n");
}

}  // namespace kiln
