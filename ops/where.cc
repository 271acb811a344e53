// Where (cond ? a : b, broadcasting all three; cond bool / u8, a and b of one dtype) and its sugar
// MaskedFill. The backward routes the gradient through the same condition to a or b.
#include "ops/api.h"
#include "ops/backward.h"
#include "ops/dispatch.h"

namespace kiln::ops {

// in[0] = cond, in[1] = a, in[2] = b (all expanded to the output shape), out[0] = contiguous.
Tensor Where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  KILN_CHECK(cond.defined() && a.defined() && b.defined()) << "Where: an input is undefined";
  KILN_CHECK(cond.dtype() == DType::kBool || cond.dtype() == DType::kU8)
      << "Where: expected cond of dtype bool or u8, got " << DTypeName(cond.dtype());
  CheckSameDtype(a, b, "Where");
  KILN_CHECK(cond.device() == a.device()) << "Where: device mismatch, cond on "
                                          << cond.device().ToString() << ", a on "
                                          << a.device().ToString();
  Shape shape = BroadcastShapes(BroadcastShapes(cond.shape(), a.shape(), "Where"), b.shape(),
                                "Where");
  Tensor out = Tensor::Empty(shape, a.dtype(), a.device());
  KernelArgs args;
  args.in[0] = ToKArray(Expand(cond, shape));
  args.in[1] = ToKArray(Expand(a, shape));
  args.in[2] = ToKArray(Expand(b, shape));
  args.n_in = 3;
  args.out[0] = ToKArray(out);
  args.n_out = 1;
  RunKernel(Op::kWhere, args, a.device());
  return out;
}

Tensor MaskedFill(const Tensor& x, const Tensor& mask, double value) {
  KILN_CHECK(x.defined()) << "MaskedFill: x is undefined";
  return Where(mask, Full({}, value, x.dtype(), x.device()), x);
}

// attrs.ints: rank of a, a's shape, b's shape. Saves cond only.
std::vector<Tensor> BackwardWhere(const BackwardCtx& ctx) {
  const Tensor& g = ctx.grads[0];
  std::vector<Tensor> grads(3);
  if (!g.defined()) return grads;
  const OpAttrs& at = ctx.attrs;
  Shape shape_a(at.ints.begin() + 1, at.ints.begin() + 1 + at.ints[0]);
  Shape shape_b(at.ints.begin() + 1 + at.ints[0], at.ints.end());
  Tensor zero = Zeros({}, g.dtype(), g.device());
  if (ctx.needs_grad[1]) grads[1] = SumToShape(Where(ctx.inputs[0], g, zero), shape_a);
  if (ctx.needs_grad[2]) grads[2] = SumToShape(Where(ctx.inputs[0], zero, g), shape_b);
  return grads;
}

}  // namespace kiln::ops
