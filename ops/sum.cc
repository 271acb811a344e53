// Sum over any dims (row Sum): the reduced dims are moved last and the input made contiguous
// (ops/reduce_util.h), so the kernel sums rows of a (rows, R) matrix in a fixed order. Backward
// broadcasts the gradient back over the reduced dims.
#include "ops/api.h"
#include "ops/backward.h"
#include "ops/dispatch.h"
#include "ops/reduce_util.h"

namespace kiln::ops {

Tensor Sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  CheckFloat(x, "Sum", "x");
  ReducePlan plan = PlanReduce(x, dims, keepdim, "Sum");
  return RunRowReduction(Op::kSum, x, plan, x.dtype());
}

// attrs: ReduceAttrs (keepdim, input shape, reduced dims). Nothing saved.
std::vector<Tensor> BackwardSum(const BackwardCtx& ctx) {
  if (!ctx.needs_grad[0]) return {Tensor()};
  ReduceAttrView a = ParseReduceAttrs(ctx.attrs);
  if (!ctx.grads[0].defined()) return {Tensor()};
  return {ExpandReduced(ctx.grads[0], a.in_shape, a.dims, a.keepdim)};
}

}  // namespace kiln::ops
