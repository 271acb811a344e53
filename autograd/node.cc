// Recording ops into the graph and running one node's backward formula.
#include "autograd/node.h"

#include <atomic>

#include "autograd/grad_mode.h"

namespace kiln::autograd {
namespace {

std::atomic<uint64_t> g_next_sequence_nr{0};

SavedTensor Save(const Tensor& t) {
  if (!t.defined()) return {};
  return {t.Detach(), t.version()};
}

}  // namespace

std::vector<Tensor> Record(Op op, const std::vector<Tensor>& inputs, std::vector<Tensor> outputs,
                           OpAttrs attrs, int num_differentiable, unsigned save_inputs,
                           unsigned save_outputs) {
  if (!GradEnabled()) return outputs;
  bool any = false;
  for (const auto& t : inputs) any = any || (t.defined() && t.requires_grad());
  if (!any) return outputs;
  BackwardFn fn = ops::GetBackward(op);
  KILN_CHECK(fn != nullptr) << OpName(op) << ": this op has no backward formula";

  auto node = std::make_shared<Node>(op, g_next_sequence_nr.fetch_add(1));
  node->num_outputs = static_cast<int>(outputs.size());
  node->attrs = std::move(attrs);
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    Edge e;
    bool needs = t.defined() && t.requires_grad();
    if (needs) {
      AutogradMeta* meta = t.autograd_meta();
      if (meta->grad_fn) {
        e.node = meta->grad_fn;
        e.output_nr = meta->output_nr;
      } else {
        e.leaf = t.impl_ptr();
      }
    }
    node->next_edges.push_back(std::move(e));
    node->needs_grad.push_back(needs);
    node->saved_inputs.push_back(i < 32 && (save_inputs >> i & 1u) ? Save(t) : SavedTensor{});
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    node->saved_outputs.push_back(i < 32 && (save_outputs >> i & 1u) ? Save(outputs[i])
                                                                     : SavedTensor{});
  }
  int n_diff = num_differentiable < 0 ? static_cast<int>(outputs.size()) : num_differentiable;
  for (int i = 0; i < n_diff && i < static_cast<int>(outputs.size()); ++i) {
    Tensor& out = outputs[i];
    if (!out.defined() || !IsFloating(out.dtype())) continue;
    // A view op returns a new TensorImpl sharing storage, so giving it autograd data is safe.
    AutogradMeta& meta = out.MutableAutogradMeta();
    meta.requires_grad = true;
    meta.grad_fn = node;
    meta.output_nr = i;
  }
  return outputs;
}

std::vector<Tensor> Node::Apply(const std::vector<Tensor>& grads, bool retain) {
  KILN_CHECK(!released) << "Backward of " << OpName(op)
                        << ": trying to run backward through the graph a second time (its saved "
                           "tensors were freed; pass retain_graph=true the first time)";
  std::vector<Tensor> ins, outs;
  for (auto* saved : {&saved_inputs, &saved_outputs}) {
    for (const SavedTensor& s : *saved) {
      if (s.tensor.defined()) {
        KILN_CHECK(s.tensor.version() == s.version)
            << "Backward of " << OpName(op)
            << ": a tensor saved for backward was modified in place (saved at version "
            << s.version << ", now version " << s.tensor.version() << ")";
      }
    }
  }
  for (const auto& s : saved_inputs) ins.push_back(s.tensor);
  for (const auto& s : saved_outputs) outs.push_back(s.tensor);
  BackwardCtx ctx{op, ins, outs, grads, attrs, needs_grad};
  std::vector<Tensor> result = ops::GetBackward(op)(ctx);
  KILN_CHECK(result.size() == next_edges.size())
      << "internal error: backward of " << OpName(op) << " returned " << result.size()
      << " gradients for " << next_edges.size() << " inputs";
  if (!retain) {
    saved_inputs.clear();
    saved_outputs.clear();
    released = true;
  }
  return result;
}

}  // namespace kiln::autograd
