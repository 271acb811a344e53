// A node of the define-by-run graph: one call of one op, its saved tensors (with the storage
// version at save time, so an in-place change is caught) and the edges to the nodes (or leaves)
// that produced its inputs. First-order only: backward formulas run with grad mode off.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ops/backward.h"
#include "tensor/tensor.h"

namespace kiln::autograd {

class Node;

struct Edge {
  std::shared_ptr<Node> node;         // producer of the input, or null
  std::shared_ptr<TensorImpl> leaf;   // a leaf that requires grad, or null
  int output_nr = 0;                  // which output of `node`
};

struct SavedTensor {
  Tensor tensor;  // a detached alias (no autograd data: saving an output creates no cycle)
  int64_t version = 0;
};

class Node {
 public:
  Node(Op op, uint64_t sequence_nr) : op(op), sequence_nr(sequence_nr) {}

  // Runs the op's backward formula; checks saved versions; frees saved tensors unless retained.
  std::vector<Tensor> Apply(const std::vector<Tensor>& grads, bool retain);

  const Op op;
  const uint64_t sequence_nr;
  int num_outputs = 0;
  std::vector<Edge> next_edges;  // one per input
  std::vector<SavedTensor> saved_inputs, saved_outputs;  // one per input / output (maybe empty)
  std::vector<bool> needs_grad;  // per input
  OpAttrs attrs;
  bool released = false;
  // Gradient hooks per output (autograd/hooks.h): called with the output's summed gradient just
  // before this node's backward runs. Empty for most nodes.
  std::vector<std::vector<std::function<void(const Tensor&)>>> output_hooks;
};

// Masks for Record's save_inputs / save_outputs (bit i = tensor i).
inline constexpr unsigned kSaveAll = ~0u;
inline constexpr unsigned kSaveNone = 0u;

// Connects the outputs of a plain op to the graph when grad mode is on and an input requires
// grad: makes a Node for `op`, saves the selected inputs / outputs, and marks the first
// `num_differentiable` outputs (all when -1) as requiring grad with this node as grad_fn.
// Returns the outputs (the same tensors). Every differentiable wrapper in autograd/api*.cc is
// a plain op call followed by Record.
std::vector<Tensor> Record(Op op, const std::vector<Tensor>& inputs, std::vector<Tensor> outputs,
                           OpAttrs attrs = {}, int num_differentiable = -1,
                           unsigned save_inputs = kSaveAll, unsigned save_outputs = kSaveAll);

}  // namespace kiln::autograd
