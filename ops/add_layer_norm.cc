// Residual add fused with LayerNorm (row AddLayerNorm): x, residual (..., C) -> {y = LayerNorm(h),
// h = x + residual, mean, rstd}, one pass over the rows instead of an Add pass and a LayerNorm
// pass. y's bits are LayerNorm(x + residual)'s. Backward: LayerNormBackward on h, plus the
// gradient arriving at h (the residual stream), given to both x and residual.
#include "ops/api.h"
#include "ops/backward.h"
#include "ops/dispatch.h"
#include "ops/reduce_util.h"

namespace kiln::ops {

void CheckResidualNorm(const Tensor& x, const Tensor& residual, const Tensor& weight,
                       const Tensor& bias, const char* op) {
  CheckFloat(x, op, "x");
  KILN_CHECK(x.dim() >= 1 && x.shape().back() > 0)
      << op << ": expected x of shape (..., C) with C > 0, got " << ShapeToString(x.shape());
  KILN_CHECK(residual.defined() && residual.shape() == x.shape())
      << op << ": expected a residual of shape " << ShapeToString(x.shape()) << ", got "
      << (residual.defined() ? ShapeToString(residual.shape()) : std::string("undefined"));
  CheckSameDtype(x, residual, op);
  const int64_t c = x.shape().back();
  for (const Tensor* t : {&weight, &bias}) {
    if (t == &bias && !bias.defined()) continue;
    KILN_CHECK(t->defined() && t->dim() == 1 && t->shape()[0] == c)
        << op << ": expected " << (t == &weight ? "weight" : "bias") << " of shape (" << c
        << ",), got " << (t->defined() ? ShapeToString(t->shape()) : std::string("undefined"));
    CheckSameDtype(x, *t, op);
  }
}

std::vector<Tensor> AddLayerNorm(const Tensor& x, const Tensor& residual, const Tensor& weight,
                                 const Tensor& bias, double eps) {
  CheckResidualNorm(x, residual, weight, bias, "AddLayerNorm");
  const int64_t c = x.shape().back(), rows = x.numel() / c;
  Shape lead(x.shape().begin(), x.shape().end() - 1);
  Tensor y = Tensor::Empty(x.shape(), x.dtype(), x.device());
  Tensor h = Tensor::Empty(x.shape(), x.dtype(), x.device());
  Tensor mean = Tensor::Empty(lead, x.dtype(), x.device());
  Tensor rstd = Tensor::Empty(lead, x.dtype(), x.device());
  if (rows == 0) return {y, h, mean, rstd};
  // The kernel sees (rows, C) matrices and (rows) statistics.
  const Tensor xd = Reshape(Dense(x), {rows, c}), rd = Reshape(Dense(residual), {rows, c});
  const Tensor wd = Dense(weight);
  const Tensor y2 = Reshape(y, {rows, c}), h2 = Reshape(h, {rows, c});
  const Tensor bd = bias.defined() ? Dense(bias) : Tensor();
  // Kernel slots: in[0] x, in[1] residual (rows, C), in[2] weight, in[3] bias (C) or null data,
  // all contiguous; out[0] y, out[1] h (rows, C), out[2] mean, out[3] rstd (rows); fattr[0] eps.
  KernelArgs args;
  args.in[0] = ToKArray(xd);
  args.in[1] = ToKArray(rd);
  args.in[2] = ToKArray(wd);
  args.in[3] = ToKArray(bd);
  args.n_in = 4;
  args.out[0] = ToKArray(y2);
  args.out[1] = ToKArray(h2);
  const Tensor mean1 = Reshape(mean, {rows}), rstd1 = Reshape(rstd, {rows});
  args.out[2] = ToKArray(mean1);
  args.out[3] = ToKArray(rstd1);
  args.n_out = 4;
  args.fattr[0] = eps;
  RunKernel(Op::kAddLayerNorm, args, x.device());
  return {y, h, mean, rstd};
}

// Inputs {x, residual, weight, bias}; saved: weight; outputs h, mean, rstd.
std::vector<Tensor> BackwardAddLayerNorm(const BackwardCtx& ctx) {
  const Tensor& gy = ctx.grads[0];
  const Tensor& gh = ctx.grads[1];
  if (!gy.defined() && !gh.defined()) return {Tensor(), Tensor(), Tensor(), Tensor()};
  Tensor g_sum, gw, gb;
  if (gy.defined()) {
    std::vector<Tensor> lb =
        LayerNormBackward(ctx.outputs[1], ctx.inputs[2], ctx.outputs[2], ctx.outputs[3], gy);
    g_sum = gh.defined() ? Add(gh, lb[0]) : lb[0];
    gw = lb[1];
    gb = lb[2];
  } else {
    g_sum = gh;
  }
  const bool want_b = ctx.needs_grad.size() > 3 && ctx.needs_grad[3];
  return {ctx.needs_grad[0] ? g_sum : Tensor(), ctx.needs_grad[1] ? g_sum : Tensor(),
          ctx.needs_grad[2] ? gw : Tensor(), want_b ? gb : Tensor()};
}

}  // namespace kiln::ops
