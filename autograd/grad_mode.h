// Grad mode: while disabled (NoGradGuard), differentiable ops record nothing.
#pragma once

namespace kiln {

bool GradEnabled();
void SetGradEnabled(bool enabled);

class NoGradGuard {
 public:
  NoGradGuard() : prev_(GradEnabled()) { SetGradEnabled(false); }
  ~NoGradGuard() { SetGradEnabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};

}  // namespace kiln
