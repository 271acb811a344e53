// Naive f64 references for the transformer-layer rows of the reduction family (tests/ops/
// layer_cases.cc): LayerNorm, RmsNorm, Rope, CrossEntropy and an AdamW step loop, in plain double
// loops with the C library's math. They never call the kernels under test.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace kiln::reference {

// x (..., C); bias may be undefined.
Tensor LayerNorm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps);
Tensor RmsNorm(const Tensor& x, const Tensor& weight, double eps);
// x (B, T, NH, HS), positions (B, T); rotate-half layout.
Tensor Rope(const Tensor& x, const Tensor& positions, double theta, bool inverse);
// Per-row losses (N).
Tensor CrossEntropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index,
                    double label_smoothing);
// `steps` AdamW steps (step = 1, 2, ...) from m = v = 0, textbook form:
// p -= lr wd p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2; p -= lr mhat / (sqrt(vhat) + eps).
// grads (steps, n); returns the concatenation of the final p, m, v (3n).
Tensor AdamWSteps(const Tensor& param, const Tensor& grads, double lr, double beta1, double beta2,
                  double eps, double weight_decay);

}  // namespace kiln::reference
