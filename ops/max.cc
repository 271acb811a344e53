// Max over any dims (row Max) and its backward-only row MaxBackward: the gradient is split evenly
// among the elements equal to the max (PyTorch's amax rule), so a tie never sends the whole
// gradient to an arbitrary element.
#include "ops/api.h"
#include "ops/backward.h"
#include "ops/dispatch.h"
#include "ops/reduce_util.h"

namespace kiln::ops {

Tensor Max(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  CheckFloat(x, "Max", "x");
  ReducePlan plan = PlanReduce(x, dims, keepdim, "Max");
  KILN_CHECK(plan.r > 0) << "Max: cannot reduce over zero elements (input shape "
                         << ShapeToString(x.shape()) << ")";
  return RunRowReduction(Op::kMax, x, plan, x.dtype());
}

Tensor MaxBackward(const Tensor& x, const Tensor& out, const Tensor& grad,
                   const std::vector<int64_t>& dims, bool keepdim) {
  CheckFloat(x, "MaxBackward", "x");
  CheckSameDtype(x, out, "MaxBackward");
  CheckSameDtype(x, grad, "MaxBackward");
  ReducePlan plan = PlanReduce(x, dims, keepdim, "MaxBackward");
  KILN_CHECK(out.shape() == plan.out_shape && grad.shape() == plan.out_shape)
      << "MaxBackward: expected out and grad of shape " << ShapeToString(plan.out_shape) << ", got "
      << ShapeToString(out.shape()) << " and " << ShapeToString(grad.shape());
  Tensor xr = ToRows(x, plan);
  Tensor gx = Tensor::Empty({plan.rows, plan.r}, x.dtype(), x.device());
  if (x.numel() > 0) {
    // Kernel slots: in[0] x (rows, R); in[1] max (rows); in[2] grad (rows); out[0] gx (rows, R).
    KernelArgs args;
    args.in[0] = ToKArray(xr);
    const Tensor in1 = Reshape(Dense(out), {plan.rows});
    args.in[1] = ToKArray(in1);
    const Tensor in2 = Reshape(Dense(grad), {plan.rows});
    args.in[2] = ToKArray(in2);
    args.n_in = 3;
    args.out[0] = ToKArray(gx);
    args.n_out = 1;
    RunKernel(Op::kMaxBackward, args, x.device());
  }
  return FromRows(gx, x, plan);
}

// attrs: ReduceAttrs (keepdim, input shape, reduced dims). Saved: input x, output max.
std::vector<Tensor> BackwardMax(const BackwardCtx& ctx) {
  if (!ctx.needs_grad[0] || !ctx.grads[0].defined()) return {Tensor()};
  ReduceAttrView a = ParseReduceAttrs(ctx.attrs);
  return {MaxBackward(ctx.inputs[0], ctx.outputs[0], ctx.grads[0], a.dims, a.keepdim)};
}

}  // namespace kiln::ops
