// Logsumexp over any dims (row Logsumexp), max-subtracted per row (an all -inf row gives -inf).
// Backward: grad * exp(x - out), i.e. the softmax over the reduced dims, with plain ops.
#include "ops/api.h"
#include "ops/backward.h"
#include "ops/dispatch.h"
#include "ops/reduce_util.h"

namespace kiln::ops {

Tensor Logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  CheckFloat(x, "Logsumexp", "x");
  ReducePlan plan = PlanReduce(x, dims, keepdim, "Logsumexp");
  return RunRowReduction(Op::kLogsumexp, x, plan, x.dtype());
}

// attrs: ReduceAttrs. Saved: input x, output lse.
std::vector<Tensor> BackwardLogsumexp(const BackwardCtx& ctx) {
  if (!ctx.needs_grad[0] || !ctx.grads[0].defined()) return {Tensor()};
  ReduceAttrView a = ParseReduceAttrs(ctx.attrs);
  Tensor lse = ExpandReduced(ctx.outputs[0], a.in_shape, a.dims, a.keepdim);
  Tensor g = ExpandReduced(ctx.grads[0], a.in_shape, a.dims, a.keepdim);
  return {Mul(g, Exp(Sub(ctx.inputs[0], lse)))};
}

}  // namespace kiln::ops
