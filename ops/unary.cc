// The unary elementwise rows (Neg, Exp, Log, Sqrt, Rsqrt, Tanh, Sigmoid, Relu, Gelu, Silu,
// AddScalar, MulScalar) and UnaryBackward, which computes grad_x of the rows that need x or y in
// one fused kernel pass. f32 / f64; any strides in, contiguous out.
#include "ops/api.h"
#include "ops/backward.h"
#include "ops/dispatch.h"

namespace kiln::ops {
namespace {

// in[0] = x, out[0] = y (contiguous), fattr[0] = the scalar of AddScalar / MulScalar.
Tensor RunUnary(Op op, const Tensor& x, double scalar = 0.0) {
  CheckFloat(x, OpName(op), "x");
  Tensor y = Tensor::Empty(x.shape(), x.dtype(), x.device());
  KernelArgs args;
  args.in[0] = ToKArray(x);
  args.n_in = 1;
  args.out[0] = ToKArray(y);
  args.n_out = 1;
  args.fattr[0] = scalar;
  RunKernel(op, args, x.device());
  return y;
}

// What each row's backward reads: x (input 0), y (output 0), neither.
bool NeedsX(Op op) {
  return op == Op::kLog || op == Op::kRelu || op == Op::kGelu || op == Op::kSilu;
}
bool NeedsY(Op op) {
  return op == Op::kExp || op == Op::kSqrt || op == Op::kRsqrt || op == Op::kTanh ||
         op == Op::kSigmoid;
}

// The backward of a row handled by the UnaryBackward kernel (inputs / outputs saved per
// NeedsX / NeedsY, see autograd/api_elementwise.cc).
std::vector<Tensor> FusedBackward(const BackwardCtx& ctx) {
  if (!ctx.needs_grad[0] || !ctx.grads[0].defined()) return {Tensor()};
  return {UnaryBackward(static_cast<int>(ctx.op), ctx.inputs[0], ctx.outputs[0], ctx.grads[0])};
}

}  // namespace

Tensor Neg(const Tensor& x) { return RunUnary(Op::kNeg, x); }
Tensor Exp(const Tensor& x) { return RunUnary(Op::kExp, x); }
Tensor Log(const Tensor& x) { return RunUnary(Op::kLog, x); }
Tensor Sqrt(const Tensor& x) { return RunUnary(Op::kSqrt, x); }
Tensor Rsqrt(const Tensor& x) { return RunUnary(Op::kRsqrt, x); }
Tensor Tanh(const Tensor& x) { return RunUnary(Op::kTanh, x); }
Tensor Sigmoid(const Tensor& x) { return RunUnary(Op::kSigmoid, x); }
Tensor Relu(const Tensor& x) { return RunUnary(Op::kRelu, x); }
Tensor Gelu(const Tensor& x) { return RunUnary(Op::kGelu, x); }
Tensor Silu(const Tensor& x) { return RunUnary(Op::kSilu, x); }
Tensor AddScalar(const Tensor& x, double s) { return RunUnary(Op::kAddScalar, x, s); }
Tensor MulScalar(const Tensor& x, double s) { return RunUnary(Op::kMulScalar, x, s); }

// in[0] = x, in[1] = y, in[2] = grad_y (same shape, any strides), out[0] = grad_x (contiguous),
// iattr[0] = the forward's Op. A slot the row does not read gets grad_y, so the kernel never
// sees a null operand.
Tensor UnaryBackward(int op_int, const Tensor& x, const Tensor& y, const Tensor& grad_y) {
  KILN_CHECK(op_int >= 0 && op_int < kNumOps)
      << "UnaryBackward: " << op_int << " is not an op of the table";
  Op op = static_cast<Op>(op_int);
  KILN_CHECK(op == Op::kNeg || NeedsX(op) || NeedsY(op))
      << "UnaryBackward: expected one of Neg, Exp, Log, Sqrt, Rsqrt, Tanh, Sigmoid, Relu, Gelu, "
         "Silu, got "
      << OpName(op);
  CheckFloat(grad_y, "UnaryBackward", "grad_y");
  auto check_like = [&](const Tensor& t, const char* what) {
    CheckFloat(t, "UnaryBackward", what);
    CheckSameDtype(t, grad_y, "UnaryBackward");
    KILN_CHECK(t.shape() == grad_y.shape())
        << "UnaryBackward (" << OpName(op) << "): " << what << " has shape "
        << ShapeToString(t.shape()) << ", grad_y has shape " << ShapeToString(grad_y.shape());
  };
  if (NeedsX(op)) check_like(x, "x");
  if (NeedsY(op)) check_like(y, "y");
  Tensor gx = Tensor::Empty(grad_y.shape(), grad_y.dtype(), grad_y.device());
  KernelArgs args;
  args.in[0] = ToKArray(NeedsX(op) ? x : grad_y);
  args.in[1] = ToKArray(NeedsY(op) ? y : grad_y);
  args.in[2] = ToKArray(grad_y);
  args.n_in = 3;
  args.out[0] = ToKArray(gx);
  args.n_out = 1;
  args.iattr[0] = op_int;
  RunKernel(Op::kUnaryBackward, args, grad_y.device());
  return gx;
}

// Neg, AddScalar, MulScalar: no saved tensors; MulScalar's attrs.floats[0] = s.
std::vector<Tensor> BackwardNeg(const BackwardCtx& ctx) {
  if (!ctx.needs_grad[0] || !ctx.grads[0].defined()) return {Tensor()};
  return {Neg(ctx.grads[0])};
}
std::vector<Tensor> BackwardAddScalar(const BackwardCtx& ctx) {
  if (!ctx.needs_grad[0] || !ctx.grads[0].defined()) return {Tensor()};
  return {ctx.grads[0]};
}
std::vector<Tensor> BackwardMulScalar(const BackwardCtx& ctx) {
  if (!ctx.needs_grad[0] || !ctx.grads[0].defined()) return {Tensor()};
  return {MulScalar(ctx.grads[0], ctx.attrs.floats[0])};
}

// The others save x (Log, Relu, Gelu, Silu) or y (Exp, Sqrt, Rsqrt, Tanh, Sigmoid).
std::vector<Tensor> BackwardExp(const BackwardCtx& ctx) { return FusedBackward(ctx); }
std::vector<Tensor> BackwardLog(const BackwardCtx& ctx) { return FusedBackward(ctx); }
std::vector<Tensor> BackwardSqrt(const BackwardCtx& ctx) { return FusedBackward(ctx); }
std::vector<Tensor> BackwardRsqrt(const BackwardCtx& ctx) { return FusedBackward(ctx); }
std::vector<Tensor> BackwardTanh(const BackwardCtx& ctx) { return FusedBackward(ctx); }
std::vector<Tensor> BackwardSigmoid(const BackwardCtx& ctx) { return FusedBackward(ctx); }
std::vector<Tensor> BackwardRelu(const BackwardCtx& ctx) { return FusedBackward(ctx); }
std::vector<Tensor> BackwardGelu(const BackwardCtx& ctx) { return FusedBackward(ctx); }
std::vector<Tensor> BackwardSilu(const BackwardCtx& ctx) { return FusedBackward(ctx); }

}  // namespace kiln::ops
