// Grad mode: while disabled (NoGradGuard), differentiable ops record nothing.
// Autocast (mixed precision): while an AutocastGuard(DType::kBF16) is active, the differentiable
// GEMM-family ops (Linear, Matmul, LinearCrossEntropy) cast their f32 operands to bf16 first
// (recorded casts: gradients flow back to the f32 tensors) and compute in f32 from the bf16 values
// (docs/mixed_precision.md). Everything else keeps its dtype.
#pragma once

#include "tensor/dtype.h"

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

// The operand dtype of the GEMM-family ops on this thread: kF32 (autocast off, the default) or
// kBF16. Any other value is an error.
DType AutocastDtype();
void SetAutocastDtype(DType dtype);

class AutocastGuard {
 public:
  explicit AutocastGuard(DType dtype) : prev_(AutocastDtype()) { SetAutocastDtype(dtype); }
  ~AutocastGuard() { SetAutocastDtype(prev_); }
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  DType prev_;
};

}  // namespace kiln
