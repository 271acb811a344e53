// Mean over any dims (row Mean): the Sum kernel's fixed-order row sum divided by the reduced
// element count (a division, correctly rounded, rather than a multiply by 1/R). Mean over zero
// elements is NaN, as in PyTorch. Backward: the gradient broadcast back, divided by the count.
#include "ops/api.h"
#include "ops/backward.h"
#include "ops/dispatch.h"
#include "ops/reduce_util.h"

namespace kiln::ops {

Tensor Mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  CheckFloat(x, "Mean", "x");
  ReducePlan plan = PlanReduce(x, dims, keepdim, "Mean");
  return RunRowReduction(Op::kMean, x, plan, x.dtype(), static_cast<double>(plan.r));
}

// attrs: ReduceAttrs (keepdim, input shape, reduced dims). Nothing saved.
std::vector<Tensor> BackwardMean(const BackwardCtx& ctx) {
  if (!ctx.needs_grad[0] || !ctx.grads[0].defined()) return {Tensor()};
  ReduceAttrView a = ParseReduceAttrs(ctx.attrs);
  int64_t count = 1;
  for (int64_t d : a.dims) count *= a.in_shape[d];
  // A division (not a multiply by 1/count), rounded like the forward's; done before the expand.
  Tensor g = Div(ctx.grads[0], Full({}, static_cast<double>(count), ctx.grads[0].dtype(), ctx.grads[0].device()));
  return {ExpandReduced(g, a.in_shape, a.dims, a.keepdim)};
}

}  // namespace kiln::ops
