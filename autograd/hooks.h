// Gradient hooks: a function called with the gradient of a non-leaf tensor during Backward, once
// that gradient is complete (all uses summed). nn::Module's backward hooks are built on this, so
// people studying training can watch per-layer gradients without changing model code.
#pragma once

#include <functional>

#include "tensor/tensor.h"

namespace kiln {

using GradHook = std::function<void(const Tensor& grad)>;

// `t` must be the output of a recorded op (it has a grad_fn); a leaf or a tensor that does not
// require grad throws kiln::Error. Hooks run in registration order, with grad mode off; the
// tensor they get must not be written to.
void RegisterGradHook(const Tensor& t, GradHook hook);

}  // namespace kiln
