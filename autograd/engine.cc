// The backward engine: collect the nodes reachable from the root, run them in decreasing
// sequence number (creation order reversed: a topological order that is the same every run),
// sum incoming gradients in that fixed order.
#include "autograd/engine.h"

#include <algorithm>
#include <unordered_map>

#include "autograd/grad_mode.h"
#include "autograd/node.h"
#include "ops/api.h"

namespace kiln {
namespace {

Tensor Accumulate(const Tensor& existing, const Tensor& g) {
  if (!existing.defined()) return g;
  return ops::Add(existing, g);
}

}  // namespace

void Backward(const Tensor& root, const Tensor& grad, bool retain_graph) {
  KILN_CHECK(root.defined()) << "Backward: the root tensor is undefined";
  KILN_CHECK(root.requires_grad())
      << "Backward: the root tensor does not require grad (no input of its graph requires grad)";
  Tensor seed = grad;
  if (!seed.defined()) {
    KILN_CHECK(root.numel() == 1) << "Backward: a gradient must be given for a non-scalar root of "
                                     "shape "
                                  << ShapeToString(root.shape());
    seed = Full(root.shape(), 1.0, root.dtype(), root.device());
  } else {
    KILN_CHECK(seed.shape() == root.shape())
        << "Backward: gradient shape " << ShapeToString(seed.shape())
        << " does not match the root's shape " << ShapeToString(root.shape());
    KILN_CHECK(seed.dtype() == root.dtype())
        << "Backward: gradient dtype " << DTypeName(seed.dtype()) << " does not match the root's "
        << DTypeName(root.dtype());
  }
  NoGradGuard no_grad;
  AutogradMeta* meta = root.autograd_meta();
  if (!meta->grad_fn) {  // the root is a leaf
    root.set_grad(Accumulate(root.grad(), seed));
    return;
  }
  // Collect reachable nodes (iterative DFS: deep graphs must not overflow the stack).
  std::vector<autograd::Node*> nodes;
  std::unordered_map<autograd::Node*, std::vector<Tensor>> pending;
  {
    std::vector<autograd::Node*> stack{meta->grad_fn.get()};
    pending[meta->grad_fn.get()];
    while (!stack.empty()) {
      autograd::Node* n = stack.back();
      stack.pop_back();
      nodes.push_back(n);
      for (const auto& e : n->next_edges) {
        if (e.node && pending.emplace(e.node.get(), std::vector<Tensor>()).second) {
          stack.push_back(e.node.get());
        }
      }
    }
  }
  std::sort(nodes.begin(), nodes.end(), [](autograd::Node* a, autograd::Node* b) {
    return a->sequence_nr > b->sequence_nr;
  });
  for (auto* n : nodes) pending[n].resize(n->num_outputs);
  pending[meta->grad_fn.get()][meta->output_nr] = seed;

  for (autograd::Node* n : nodes) {
    std::vector<Tensor>& grads = pending[n];
    bool any = false;
    for (const auto& g : grads) any = any || g.defined();
    if (!any) continue;
    for (size_t i = 0; i < n->output_hooks.size() && i < grads.size(); ++i) {
      if (!grads[i].defined()) continue;
      for (const auto& hook : n->output_hooks[i]) hook(grads[i]);
    }
    std::vector<Tensor> input_grads = n->Apply(grads, retain_graph);
    grads.clear();
    for (size_t i = 0; i < n->next_edges.size(); ++i) {
      const autograd::Edge& e = n->next_edges[i];
      const Tensor& g = input_grads[i];
      if (!g.defined() || !n->needs_grad[i]) continue;
      if (e.node) {
        Tensor& slot = pending[e.node.get()][e.output_nr];
        slot = Accumulate(slot, g);
      } else if (e.leaf) {
        Tensor leaf(e.leaf);
        KILN_CHECK(g.shape() == leaf.shape())
            << "internal error: gradient of shape " << ShapeToString(g.shape())
            << " for a leaf of shape " << ShapeToString(leaf.shape()) << " (from "
            << OpName(n->op) << ")";
        leaf.set_grad(Accumulate(leaf.grad(), g));
      }
    }
  }
}

}  // namespace kiln
