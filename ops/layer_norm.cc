// LayerNorm over the last dim (row LayerNorm) and its fused backward (row LayerNormBackward), as
// llm.c does: the forward keeps the per-row mean and rstd so the backward needs no second pass
// over the statistics. x (..., C) is viewed as (rows, C); mean / rstd have x's leading shape.
#include "ops/api.h"
#include "ops/backward.h"
#include "ops/dispatch.h"
#include "ops/reduce_util.h"

namespace kiln::ops {
namespace {

int64_t CheckNormArgs(const Tensor& x, const Tensor& weight, const Tensor& bias, const char* op) {
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
  if (bias.defined()) {
    CheckSameDtype(x, bias, op);
    KILN_CHECK(bias.dim() == 1 && bias.shape()[0] == c)
        << op << ": expected bias of shape (" << c << ",) for x of shape "
        << ShapeToString(x.shape()) << ", got " << ShapeToString(bias.shape());
  }
  return c;
}

Shape LeadingShape(const Tensor& x) { return Shape(x.shape().begin(), x.shape().end() - 1); }

void CheckStats(const Tensor& t, const Tensor& x, int64_t rows, const char* op, const char* what) {
  KILN_CHECK(t.defined()) << op << ": " << what << " is undefined";
  CheckSameDtype(x, t, op);
  KILN_CHECK(t.numel() == rows) << op << ": expected " << what << " with " << rows
                                << " elements (one per row of x " << ShapeToString(x.shape())
                                << "), got shape " << ShapeToString(t.shape());
}

// The fused backward; only the wanted gradients are computed (undefined otherwise).
std::vector<Tensor> LayerNormBackwardImpl(const Tensor& x, const Tensor& weight, const Tensor& mean,
                                          const Tensor& rstd, const Tensor& grad_y, bool want_x,
                                          bool want_w, bool want_b) {
  const int64_t c = CheckNormArgs(x, weight, Tensor(), "LayerNormBackward");
  const int64_t rows = x.numel() / c;
  CheckStats(mean, x, rows, "LayerNormBackward", "mean");
  CheckStats(rstd, x, rows, "LayerNormBackward", "rstd");
  KILN_CHECK(grad_y.defined() && grad_y.shape() == x.shape())
      << "LayerNormBackward: expected grad_y of shape " << ShapeToString(x.shape()) << ", got "
      << (grad_y.defined() ? ShapeToString(grad_y.shape()) : std::string("undefined"));
  CheckSameDtype(x, grad_y, "LayerNormBackward");
  Tensor gx = want_x ? Tensor::Empty(x.shape(), x.dtype(), x.device()) : Tensor();
  Tensor gw = want_w ? Tensor::Empty({c}, x.dtype(), x.device()) : Tensor();
  Tensor gb = want_b ? Tensor::Empty({c}, x.dtype(), x.device()) : Tensor();
  // Kernel slots: in[0] x (rows, C), in[1] weight (C), in[2] mean (rows), in[3] rstd (rows),
  // in[4] grad_y (rows, C), all contiguous; out[0] gx (rows, C), out[1] gw (C), out[2] gb (C),
  // null data where not wanted.
  KernelArgs args;
  const Tensor in0 = View(Dense(x), {rows, c});
  args.in[0] = ToKArray(in0);
  const Tensor in1 = Dense(weight);
  args.in[1] = ToKArray(in1);
  const Tensor in2 = Reshape(Dense(mean), {rows});
  args.in[2] = ToKArray(in2);
  const Tensor in3 = Reshape(Dense(rstd), {rows});
  args.in[3] = ToKArray(in3);
  const Tensor in4 = View(Dense(grad_y), {rows, c});
  args.in[4] = ToKArray(in4);
  args.n_in = 5;
  args.out[0] = ToKArray(want_x ? View(gx, {rows, c}) : Tensor());
  args.out[1] = ToKArray(gw);
  args.out[2] = ToKArray(gb);
  args.n_out = 3;
  if (want_x || want_w || want_b) RunKernel(Op::kLayerNormBackward, args, x.device());
  return {gx, gw, gb};
}

}  // namespace

std::vector<Tensor> LayerNorm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                              double eps) {
  const int64_t c = CheckNormArgs(x, weight, bias, "LayerNorm");
  KILN_CHECK(eps >= 0) << "LayerNorm: expected eps >= 0, got " << eps;
  const int64_t rows = x.numel() / c;
  Tensor y = Tensor::Empty(x.shape(), x.dtype(), x.device());
  Tensor mean = Tensor::Empty(LeadingShape(x), x.dtype(), x.device());
  Tensor rstd = Tensor::Empty(LeadingShape(x), x.dtype(), x.device());
  if (rows == 0) return {y, mean, rstd};
  // Kernel slots: in[0] x (rows, C), in[1] weight (C), in[2] bias (C) or null, all contiguous;
  // out[0] y (rows, C), out[1] mean (rows), out[2] rstd (rows); fattr[0] eps.
  KernelArgs args;
  const Tensor in0 = View(Dense(x), {rows, c});
  args.in[0] = ToKArray(in0);
  const Tensor in1 = Dense(weight);
  args.in[1] = ToKArray(in1);
  const Tensor in2 = bias.defined() ? Dense(bias) : Tensor();
  args.in[2] = ToKArray(in2);
  args.n_in = 3;
  args.out[0] = ToKArray(View(y, {rows, c}));
  args.out[1] = ToKArray(View(mean, {rows}));
  args.out[2] = ToKArray(View(rstd, {rows}));
  args.n_out = 3;
  args.fattr[0] = eps;
  RunKernel(Op::kLayerNorm, args, x.device());
  return {y, mean, rstd};
}

std::vector<Tensor> LayerNormBackward(const Tensor& x, const Tensor& weight, const Tensor& mean,
                                      const Tensor& rstd, const Tensor& grad_y) {
  return LayerNormBackwardImpl(x, weight, mean, rstd, grad_y, true, true, true);
}

// Inputs {x, weight, bias}; saved: x, weight, and the outputs mean, rstd. attrs.floats: {eps}.
std::vector<Tensor> BackwardLayerNorm(const BackwardCtx& ctx) {
  const bool want_b = ctx.needs_grad.size() > 2 && ctx.needs_grad[2];
  if (!ctx.grads[0].defined()) return {Tensor(), Tensor(), Tensor()};
  return LayerNormBackwardImpl(ctx.inputs[0], ctx.inputs[1], ctx.outputs[1], ctx.outputs[2],
                               ctx.grads[0], ctx.needs_grad[0], ctx.needs_grad[1], want_b);
}

}  // namespace kiln::ops
