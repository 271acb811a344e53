// Softmax and LogSoftmax along one dim (rows Softmax, LogSoftmax): the dim is moved last and the
// input made contiguous, the kernel works per row (max-subtracted). Backward with plain ops:
//   softmax:     gx = y * (g - sum(g * y))      log_softmax: gx = g - exp(y) * sum(g)
#include "ops/api.h"
#include "ops/backward.h"
#include "ops/dispatch.h"
#include "ops/reduce_util.h"

namespace kiln::ops {
namespace {

Tensor SoftmaxImpl(const Tensor& x, int64_t dim, Op op) {
  const char* name = OpName(op);
  CheckFloat(x, name, "x");
  ReducePlan plan = PlanReduceDim(x, dim, /*keepdim=*/true, name);
  Tensor y = Tensor::Empty({plan.rows, plan.r}, x.dtype(), x.device());
  if (x.numel() > 0) {
    // Kernel slots: in[0] x as (rows, R), unit inner stride; out[0] y (rows, R) contiguous.
    KernelArgs args;
    const Tensor in0 = ToRows(x, plan);
    args.in[0] = ToKArray(in0);
    args.n_in = 1;
    args.out[0] = ToKArray(y);
    args.n_out = 1;
    RunKernel(op, args, x.device());
  }
  return FromRows(y, x, plan);
}

}  // namespace

Tensor Softmax(const Tensor& x, int64_t dim) { return SoftmaxImpl(x, dim, Op::kSoftmax); }
Tensor LogSoftmax(const Tensor& x, int64_t dim) { return SoftmaxImpl(x, dim, Op::kLogSoftmax); }

// attrs.ints: {dim (normalized)}. Saved: output y only.
std::vector<Tensor> BackwardSoftmax(const BackwardCtx& ctx) {
  if (!ctx.needs_grad[0] || !ctx.grads[0].defined()) return {Tensor()};
  const Tensor& y = ctx.outputs[0];
  const Tensor& g = ctx.grads[0];
  Tensor dot = Sum(Mul(g, y), {ctx.attrs.ints[0]}, /*keepdim=*/true);
  return {Mul(y, Sub(g, dot))};
}

std::vector<Tensor> BackwardLogSoftmax(const BackwardCtx& ctx) {
  if (!ctx.needs_grad[0] || !ctx.grads[0].defined()) return {Tensor()};
  const Tensor& y = ctx.outputs[0];
  const Tensor& g = ctx.grads[0];
  Tensor gsum = Sum(g, {ctx.attrs.ints[0]}, /*keepdim=*/true);
  return {Sub(g, Mul(Exp(y), gsum))};
}

}  // namespace kiln::ops
