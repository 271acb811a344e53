// The broadcasting binary rows (Add, Sub, Mul, Div, Maximum) and MaximumBackward: numpy
// broadcasting via Expand (stride 0), one kernel pass into a contiguous output. Backward formulas
// reduce the broadcast gradient back to each input's shape with SumToShape.
#include "ops/api.h"
#include "ops/backward.h"
#include "ops/dispatch.h"

namespace kiln::ops {
namespace {

Shape CheckBinary(const Tensor& a, const Tensor& b, const char* op) {
  CheckFloat(a, op, "a");
  CheckFloat(b, op, "b");
  CheckSameDtype(a, b, op);
  return BroadcastShapes(a.shape(), b.shape(), op);
}

// in[0] = a, in[1] = b (both expanded to the output shape), out[0] = contiguous.
Tensor RunBinary(Op op, const Tensor& a, const Tensor& b) {
  Shape shape = CheckBinary(a, b, OpName(op));
  Tensor out = Tensor::Empty(shape, a.dtype(), a.device());
  KernelArgs args;
  args.in[0] = ToKArray(Expand(a, shape));
  args.in[1] = ToKArray(Expand(b, shape));
  args.n_in = 2;
  args.out[0] = ToKArray(out);
  args.n_out = 1;
  RunKernel(op, args, a.device());
  return out;
}

// attrs.ints of every binary row: rank of a, a's shape, b's shape.
Shape ShapeA(const OpAttrs& attrs) {
  return Shape(attrs.ints.begin() + 1, attrs.ints.begin() + 1 + attrs.ints[0]);
}
Shape ShapeB(const OpAttrs& attrs) {
  return Shape(attrs.ints.begin() + 1 + attrs.ints[0], attrs.ints.end());
}

}  // namespace

Tensor Add(const Tensor& a, const Tensor& b) { return RunBinary(Op::kAdd, a, b); }
Tensor Sub(const Tensor& a, const Tensor& b) { return RunBinary(Op::kSub, a, b); }
Tensor Mul(const Tensor& a, const Tensor& b) { return RunBinary(Op::kMul, a, b); }
Tensor Div(const Tensor& a, const Tensor& b) { return RunBinary(Op::kDiv, a, b); }
Tensor Maximum(const Tensor& a, const Tensor& b) { return RunBinary(Op::kMaximum, a, b); }

// in[0] = a, in[1] = b, in[2] = grad (all expanded to the output shape); out[0] = grad_a,
// out[1] = grad_b (contiguous, output shape).
std::vector<Tensor> MaximumBackward(const Tensor& a, const Tensor& b, const Tensor& grad) {
  Shape shape = CheckBinary(a, b, "MaximumBackward");
  CheckFloat(grad, "MaximumBackward", "grad");
  CheckSameDtype(a, grad, "MaximumBackward");
  KILN_CHECK(grad.shape() == shape)
      << "MaximumBackward: expected grad of the broadcast shape " << ShapeToString(shape)
      << ", got " << ShapeToString(grad.shape());
  Tensor ga = Tensor::Empty(shape, a.dtype(), a.device());
  Tensor gb = Tensor::Empty(shape, a.dtype(), a.device());
  KernelArgs args;
  args.in[0] = ToKArray(Expand(a, shape));
  args.in[1] = ToKArray(Expand(b, shape));
  args.in[2] = ToKArray(grad);
  args.n_in = 3;
  args.out[0] = ToKArray(ga);
  args.out[1] = ToKArray(gb);
  args.n_out = 2;
  RunKernel(Op::kMaximumBackward, args, a.device());
  return {ga, gb};
}

// Add, Sub: nothing saved.
std::vector<Tensor> BackwardAdd(const BackwardCtx& ctx) {
  const Tensor& g = ctx.grads[0];
  if (!g.defined()) return {Tensor(), Tensor()};
  return {ctx.needs_grad[0] ? SumToShape(g, ShapeA(ctx.attrs)) : Tensor(),
          ctx.needs_grad[1] ? SumToShape(g, ShapeB(ctx.attrs)) : Tensor()};
}

std::vector<Tensor> BackwardSub(const BackwardCtx& ctx) {
  const Tensor& g = ctx.grads[0];
  if (!g.defined()) return {Tensor(), Tensor()};
  return {ctx.needs_grad[0] ? SumToShape(g, ShapeA(ctx.attrs)) : Tensor(),
          ctx.needs_grad[1] ? Neg(SumToShape(g, ShapeB(ctx.attrs))) : Tensor()};
}

// Saves b when a needs grad, a when b needs grad.
std::vector<Tensor> BackwardMul(const BackwardCtx& ctx) {
  const Tensor& g = ctx.grads[0];
  if (!g.defined()) return {Tensor(), Tensor()};
  return {ctx.needs_grad[0] ? SumToShape(Mul(g, ctx.inputs[1]), ShapeA(ctx.attrs)) : Tensor(),
          ctx.needs_grad[1] ? SumToShape(Mul(g, ctx.inputs[0]), ShapeB(ctx.attrs)) : Tensor()};
}

// Saves b always, a when b needs grad: d(a/b)/da = 1/b, d(a/b)/db = -a/b^2.
std::vector<Tensor> BackwardDiv(const BackwardCtx& ctx) {
  const Tensor& g = ctx.grads[0];
  if (!g.defined()) return {Tensor(), Tensor()};
  const Tensor& a = ctx.inputs[0];
  const Tensor& b = ctx.inputs[1];
  Tensor ga, gb;
  if (ctx.needs_grad[0]) ga = SumToShape(Div(g, b), ShapeA(ctx.attrs));
  if (ctx.needs_grad[1]) gb = SumToShape(Neg(Div(Mul(g, a), Mul(b, b))), ShapeB(ctx.attrs));
  return {ga, gb};
}

// Saves a and b.
std::vector<Tensor> BackwardMaximum(const BackwardCtx& ctx) {
  const Tensor& g = ctx.grads[0];
  if (!g.defined()) return {Tensor(), Tensor()};
  std::vector<Tensor> gs = MaximumBackward(ctx.inputs[0], ctx.inputs[1], g);
  return {ctx.needs_grad[0] ? SumToShape(gs[0], ShapeA(ctx.attrs)) : Tensor(),
          ctx.needs_grad[1] ? SumToShape(gs[1], ShapeB(ctx.attrs)) : Tensor()};
}

}  // namespace kiln::ops
