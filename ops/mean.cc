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
  Tensor out = Tensor::Empty(plan.out_shape, x.dtype(), x.device());
  if (plan.rows == 0) return out;
  // Kernel slots: in[0] x as (rows, R), unit inner stride; out[0] (rows); fattr[0] = R.
  KernelArgs args;
  const Tensor in0 = ToRows(x, plan);
  args.in[0] = ToKArray(in0);
  args.n_in = 1;
  args.out[0] = ToKArray(View(out, {plan.rows}));
  args.n_out = 1;
  args.fattr[0] = static_cast<double>(plan.r);
  RunKernel(Op::kMean, args, x.device());
  return out;
}

// attrs: ReduceAttrs (keepdim, input shape, reduced dims). Nothing saved.
std::vector<Tensor> BackwardMean(const BackwardCtx& ctx) {
  if (!ctx.needs_grad[0] || !ctx.grads[0].defined()) return {Tensor()};
  ReduceAttrView a = ParseReduceAttrs(ctx.attrs);
  int64_t count = 1;
  for (int64_t d : a.dims) count *= a.in_shape[d];
  // A division (not a multiply by 1/count), rounded like the forward's; done before the expand.
  Tensor g = Div(ctx.grads[0], Full({}, static_cast<double>(count), ctx.grads[0].dtype()));
  return {ExpandReduced(g, a.in_shape, a.dims, a.keepdim)};
}

}  // namespace kiln::ops
