// Backward(): runs the graph in reverse. Nodes run in decreasing creation order (a valid
// topological order, and a fixed one), so gradients of a tensor used twice are summed in the same
// order every run.
#pragma once

#include <vector>

#include "tensor/tensor.h"

namespace kiln {

// `root` must be a scalar unless `grad` (same shape as root) is given. Leaves that require grad
// get their .grad() accumulated (summed with any existing grad). Unless retain_graph, the saved
// tensors are freed, and a second Backward through the same graph throws.
void Backward(const Tensor& root, const Tensor& grad = Tensor(), bool retain_graph = false);

}  // namespace kiln
