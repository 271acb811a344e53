// Gradient clipping by the global L2 norm (torch.nn.utils.clip_grad_norm_ with norm_type 2). The
// norm is summed in a fixed order (per tensor with kiln's deterministic reductions, then over
// tensors in the given order in double), so it has the same bits on every run and thread count.
#pragma once

#include <vector>

#include "tensor/tensor.h"

namespace kiln::optim {

// sqrt(sum over params with a grad of sum(g * g)): each tensor's sum of squares in the grad's
// dtype, accumulated in double in param order. Params without a grad are skipped (0 if none).
double GradNorm(const std::vector<Tensor>& params);

// Computes norm = GradNorm(params); when coef = max_norm / (norm + 1e-6) < 1, replaces each grad
// by grad * coef (a new tensor: engine grads may share storage between params or be broadcast
// views, so scaling in place could scale one buffer twice). Returns the pre-clip norm.
// A NaN or infinite norm is returned as is and the grads are left untouched (PyTorch would scale
// them all to NaN): the caller sees the bad norm and should skip the step. max_norm <= 0 throws.
double ClipGradNorm(const std::vector<Tensor>& params, double max_norm);

}  // namespace kiln::optim
