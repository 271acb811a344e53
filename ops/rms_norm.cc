// RmsNorm over the last dim (row RmsNorm, Llama's RMSNorm: y = x * rsqrt(mean(x^2) + eps) * w) and
// its fused backward (row RmsNormBackward). x (..., C) is viewed as (rows, C); rstd has x's
// leading shape.
#include "ops/api.h"
#include "ops/backward.h"
#include "ops/dispatch.h"
#include "ops/reduce_util.h"

namespace kiln::ops {
namespace {

int64_t CheckRmsArgs(const Tensor& x, const Tensor& weight, const char* op) {
  CheckFloat(x, op, "x");
  KILN_CHECK(x.dim() >= 1) << op << ": expected x of shape (..., C), got a 0-d tensor";
  const int64_t c = x.shape().back();
  KILN_CHECK(c > 0) << op << ": the normalized dim C must be > 0, got x of shape "
                    << ShapeToString(x.shape());
  KILN_CHECK(weight.defined()) << op << ": weight is undefined";
  CheckSameDtype(x, weight, op);
  KILN_CHECK(weight.dim() == 1 && weight.shape()[0] == c)
      << op << ": expected weight of shape (" << c << ",) for x of shape "
      << ShapeToString(x.shape()) << ", got " << ShapeToString(weight.shape());
  return c;
}

std::vector<Tensor> RmsNormBackwardImpl(const Tensor& x, const Tensor& weight, const Tensor& rstd,
                                        const Tensor& grad_y, bool want_x, bool want_w) {
  const int64_t c = CheckRmsArgs(x, weight, "RmsNormBackward");
  const int64_t rows = x.numel() / c;
  KILN_CHECK(rstd.defined() && rstd.numel() == rows)
      << "RmsNormBackward: expected rstd with " << rows << " elements (one per row of x "
      << ShapeToString(x.shape()) << "), got "
      << (rstd.defined() ? ShapeToString(rstd.shape()) : std::string("undefined"));
  CheckSameDtype(x, rstd, "RmsNormBackward");
  KILN_CHECK(grad_y.defined() && grad_y.shape() == x.shape())
      << "RmsNormBackward: expected grad_y of shape " << ShapeToString(x.shape()) << ", got "
      << (grad_y.defined() ? ShapeToString(grad_y.shape()) : std::string("undefined"));
  CheckSameDtype(x, grad_y, "RmsNormBackward");
  Tensor gx = want_x ? Tensor::Empty(x.shape(), x.dtype(), x.device()) : Tensor();
  Tensor gw = want_w ? Tensor::Empty({c}, x.dtype(), x.device()) : Tensor();
  // Kernel slots: in[0] x (rows, C), in[1] weight (C), in[2] rstd (rows), in[3] grad_y (rows, C),
  // all contiguous; out[0] gx (rows, C), out[1] gw (C), null data where not wanted.
  KernelArgs args;
  const Tensor in0 = View(Dense(x), {rows, c});
  args.in[0] = ToKArray(in0);
  const Tensor in1 = Dense(weight);
  args.in[1] = ToKArray(in1);
  const Tensor in2 = Reshape(Dense(rstd), {rows});
  args.in[2] = ToKArray(in2);
  const Tensor in3 = View(Dense(grad_y), {rows, c});
  args.in[3] = ToKArray(in3);
  args.n_in = 4;
  args.out[0] = ToKArray(want_x ? View(gx, {rows, c}) : Tensor());
  args.out[1] = ToKArray(gw);
  args.n_out = 2;
  if (want_x || want_w) RunKernel(Op::kRmsNormBackward, args, x.device());
  return {gx, gw};
}

}  // namespace

std::vector<Tensor> RmsNorm(const Tensor& x, const Tensor& weight, double eps) {
  const int64_t c = CheckRmsArgs(x, weight, "RmsNorm");
  KILN_CHECK(eps >= 0) << "RmsNorm: expected eps >= 0, got " << eps;
  const int64_t rows = x.numel() / c;
  Tensor y = Tensor::Empty(x.shape(), x.dtype(), x.device());
  Tensor rstd = Tensor::Empty(Shape(x.shape().begin(), x.shape().end() - 1), x.dtype(), x.device());
  if (rows == 0) return {y, rstd};
  // Kernel slots: in[0] x (rows, C), in[1] weight (C), contiguous; out[0] y (rows, C),
  // out[1] rstd (rows); fattr[0] eps.
  KernelArgs args;
  const Tensor in0 = View(Dense(x), {rows, c});
  args.in[0] = ToKArray(in0);
  const Tensor in1 = Dense(weight);
  args.in[1] = ToKArray(in1);
  args.n_in = 2;
  args.out[0] = ToKArray(View(y, {rows, c}));
  args.out[1] = ToKArray(View(rstd, {rows}));
  args.n_out = 2;
  args.fattr[0] = eps;
  RunKernel(Op::kRmsNorm, args, x.device());
  return {y, rstd};
}

std::vector<Tensor> RmsNormBackward(const Tensor& x, const Tensor& weight, const Tensor& rstd,
                                    const Tensor& grad_y) {
  return RmsNormBackwardImpl(x, weight, rstd, grad_y, true, true);
}

// Inputs {x, weight}; saved: x, weight, and the output rstd. attrs.floats: {eps}.
std::vector<Tensor> BackwardRmsNorm(const BackwardCtx& ctx) {
  if (!ctx.grads[0].defined()) return {Tensor(), Tensor()};
  return RmsNormBackwardImpl(ctx.inputs[0], ctx.inputs[1], ctx.outputs[1], ctx.grads[0],
                             ctx.needs_grad[0], ctx.needs_grad[1]);
}

}  // namespace kiln::ops
