// Linear layer with the bias folded into the GEMM (row Linear): x (N, K), weight (M, K), bias (M)
// or undefined -> x weight^T + bias (N, M), with no separate broadcast add (the GEMM's FMA chains
// start from the bias). Its backward: grad_x and grad_weight are plain Matmuls, grad_bias the
// BiasGrad row: column sums of the gradient read in place (no transposed copy), in fixed row
// chunks (cpu/bias_grad.cc).
#include "ops/api.h"
#include "ops/backward.h"
#include "ops/dispatch.h"
#include "ops/reduce_util.h"

namespace kiln::ops {

Tensor Linear(const Tensor& x, const Tensor& weight, const Tensor& bias, bool stable_weight) {
  const DType rt = GemmDtype(x, weight, "Linear", "x", "weight");
  KILN_CHECK(x.dim() == 2) << "Linear: expected x of shape (N, K), got "
                           << ShapeToString(x.shape());
  KILN_CHECK(weight.dim() == 2 && weight.shape()[1] == x.shape()[1])
      << "Linear: expected a weight of shape (M, " << x.shape()[1] << "), got "
      << ShapeToString(weight.shape());
  const int64_t n = x.shape()[0], m = weight.shape()[0];
  if (bias.defined()) {
    KILN_CHECK(bias.dtype() == rt && bias.device() == x.device())
        << "Linear: expected a bias of dtype " << DTypeName(rt) << " on " << x.device().ToString()
        << ", got " << DTypeName(bias.dtype()) << " on " << bias.device().ToString();
    KILN_CHECK(bias.dim() == 1 && bias.shape()[0] == m)
        << "Linear: expected a bias of shape (" << m << ",), got " << ShapeToString(bias.shape());
  }
  Tensor y = Tensor::Empty({n, m}, rt, x.device());
  if (y.numel() == 0) return y;
  if (x.shape()[1] == 0) {
    if (bias.defined()) return Add(Zeros({n, m}, rt, x.device()), bias);
    y.Fill_(0);
    return y;
  }
  const Tensor xd = Dense(x), wd = Dense(weight), bd = bias.defined() ? Dense(bias) : Tensor();
  // Kernel slots: in[0] x (N, K), in[1] weight (M, K), in[2] bias (M) or null data, all
  // contiguous; out[0] y (N, M); iattr[0..2] the weight hint (ops/weight_hint.h).
  KernelArgs args;
  // A bf16 weight is widened per call on the CPU (cpu/bf16_operands.h): no pre-packed copy.
  SetWeightHint(args, 0, wd,
                stable_weight && wd.storage() == weight.storage() && wd.dtype() == DType::kF32);
  args.in[0] = ToKArray(xd);
  args.in[1] = ToKArray(wd);
  args.in[2] = ToKArray(bd);
  args.n_in = 3;
  args.out[0] = ToKArray(y);
  args.n_out = 1;
  RunKernel(Op::kLinear, args, x.device());
  return y;
}

Tensor BiasGrad(const Tensor& grad) {
  CheckFloat(grad, "BiasGrad", "grad");
  KILN_CHECK(grad.dim() == 2) << "BiasGrad: expected a gradient of shape (N, M), got "
                              << ShapeToString(grad.shape());
  Tensor gb = Tensor::Empty({grad.shape()[1]}, grad.dtype(), grad.device());
  if (gb.numel() == 0) return gb;
  const Tensor gd = Dense(grad);
  // Kernel slots: in[0] grad (N, M) contiguous; out[0] grad_bias (M).
  KernelArgs args;
  args.in[0] = ToKArray(gd);
  args.n_in = 1;
  args.out[0] = ToKArray(gb);
  args.n_out = 1;
  RunKernel(Op::kBiasGrad, args, grad.device());
  return gb;
}

// Inputs {x, weight, bias (may be undefined)}; saved: x, weight. With bf16 operands (mixed
// precision) the gradient enters the two GEMMs as bf16 too (GemmGrad); the bias gradient sums
// the f32 gradient.
std::vector<Tensor> BackwardLinear(const BackwardCtx& ctx) {
  const Tensor& g = ctx.grads[0];
  if (!g.defined()) return {Tensor(), Tensor(), Tensor()};
  const bool want_b = ctx.needs_grad.size() > 2 && ctx.needs_grad[2];
  const Tensor gg = GemmGrad(g, ctx.inputs[0], ctx.inputs[1]);
  return {ctx.needs_grad[0] ? Matmul(gg, ctx.inputs[1], false, false) : Tensor(),
          ctx.needs_grad[1] ? Matmul(gg, ctx.inputs[0], true, false) : Tensor(),
          want_b ? BiasGrad(g) : Tensor()};
}

}  // namespace kiln::ops
