// Gradcheck: compares autograd gradients with central differences in f64 (eps 1e-6, atol 1e-5,
// rtol 1e-3). The output is reduced as Sum(out * w) with a random w (a plain sum would hide
// softmax-like bugs whose gradient rows sum to zero).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace kiln {

struct GradcheckOptions {
  double eps = 1e-6, atol = 1e-5, rtol = 1e-3;
  uint64_t seed = 1234;
  std::vector<int> inputs;  // which inputs to check; empty = every floating input
  // Check at most this many elements per input (0 = all): a fixed, evenly spaced subset that
  // always includes the first and last element, so large inputs stay affordable.
  int64_t max_elements = 0;
};

struct GradcheckResult {
  bool ok = true;
  std::string message;  // the first mismatch: input, element, analytic, numeric
  double max_abs_error = 0;
};

// `fn` maps the inputs (f64; index tensors as given) to one output tensor through differentiable
// kiln:: ops.
GradcheckResult Gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& options = {});

}  // namespace kiln
