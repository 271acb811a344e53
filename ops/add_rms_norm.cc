// Residual add fused with RmsNorm (row AddRmsNorm): x, residual (..., C) -> {y = RmsNorm(h),
// h = x + residual, rstd}, one pass over the rows. y's bits are RmsNorm(x + residual)'s.
// Backward: RmsNormBackward on h plus the gradient arriving at h, given to both x and residual.
#include "ops/api.h"
#include "ops/backward.h"
#include "ops/dispatch.h"
#include "ops/reduce_util.h"

namespace kiln::ops {

std::vector<Tensor> AddRmsNorm(const Tensor& x, const Tensor& residual, const Tensor& weight,
                               double eps) {
  CheckResidualNorm(x, residual, weight, Tensor(), "AddRmsNorm");
  const int64_t c = x.shape().back(), rows = x.numel() / c;
  Shape lead(x.shape().begin(), x.shape().end() - 1);
  Tensor y = Tensor::Empty(x.shape(), x.dtype(), x.device());
  Tensor h = Tensor::Empty(x.shape(), x.dtype(), x.device());
  Tensor rstd = Tensor::Empty(lead, x.dtype(), x.device());
  if (rows == 0) return {y, h, rstd};
  // The kernel sees (rows, C) matrices and (rows) statistics.
  const Tensor xd = Reshape(Dense(x), {rows, c}), rd = Reshape(Dense(residual), {rows, c});
  const Tensor wd = Dense(weight);
  const Tensor y2 = Reshape(y, {rows, c}), h2 = Reshape(h, {rows, c});
  // Kernel slots: in[0] x, in[1] residual (rows, C), in[2] weight (C), all contiguous; out[0] y,
  // out[1] h (rows, C), out[2] rstd (rows); fattr[0] eps.
  KernelArgs args;
  args.in[0] = ToKArray(xd);
  args.in[1] = ToKArray(rd);
  args.in[2] = ToKArray(wd);
  args.n_in = 3;
  args.out[0] = ToKArray(y2);
  args.out[1] = ToKArray(h2);
  const Tensor rstd1 = Reshape(rstd, {rows});
  args.out[2] = ToKArray(rstd1);
  args.n_out = 3;
  args.fattr[0] = eps;
  RunKernel(Op::kAddRmsNorm, args, x.device());
  return {y, h, rstd};
}

// Inputs {x, residual, weight}; saved: weight; outputs h, rstd.
std::vector<Tensor> BackwardAddRmsNorm(const BackwardCtx& ctx) {
  const Tensor& gy = ctx.grads[0];
  const Tensor& gh = ctx.grads[1];
  if (!gy.defined() && !gh.defined()) return {Tensor(), Tensor(), Tensor()};
  Tensor g_sum, gw;
  if (gy.defined()) {
    std::vector<Tensor> rb = RmsNormBackward(ctx.outputs[1], ctx.inputs[2], ctx.outputs[2], gy);
    g_sum = gh.defined() ? Add(gh, rb[0]) : rb[0];
    gw = rb[1];
  } else {
    g_sum = gh;
  }
  return {ctx.needs_grad[0] ? g_sum : Tensor(), ctx.needs_grad[1] ? g_sum : Tensor(),
          ctx.needs_grad[2] ? gw : Tensor()};
}

}  // namespace kiln::ops
