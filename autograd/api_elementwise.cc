// Differentiable elementwise and data-movement ops: a plain op call + Record, saving only what
// each backward formula reads (ops/unary.cc, binary.cc, where.cc...), so a long graph keeps as
// little memory alive as possible.
#include "autograd/api.h"
#include "autograd/node.h"

namespace kiln {
namespace {

using autograd::kSaveAll;
using autograd::kSaveNone;

Tensor RecordUnary(Op op, const Tensor& x, Tensor y, unsigned save_in, unsigned save_out,
                   OpAttrs attrs = {}) {
  return autograd::Record(op, {x}, {std::move(y)}, attrs, -1, save_in, save_out)[0];
}

// attrs of the binary rows (ops/binary.cc, ops/where.cc): rank of a, a's shape, b's shape.
OpAttrs BinaryAttrs(const Tensor& a, const Tensor& b) {
  OpAttrs attrs;
  attrs.ints.push_back(a.dim());
  attrs.ints.insert(attrs.ints.end(), a.shape().begin(), a.shape().end());
  attrs.ints.insert(attrs.ints.end(), b.shape().begin(), b.shape().end());
  return attrs;
}

unsigned Bit(int i, bool on) { return on ? 1u << i : 0u; }

}  // namespace

Tensor Contiguous(const Tensor& x) {
  if (x.is_contiguous()) return x;  // the same tensor: nothing to record
  return RecordUnary(Op::kContiguous, x, ops::Contiguous(x), kSaveNone, kSaveNone);
}

Tensor Cast(const Tensor& x, DType dtype) {
  if (x.dtype() == dtype) return x;
  OpAttrs attrs;
  attrs.ints.push_back(static_cast<int64_t>(x.dtype()));
  return RecordUnary(Op::kCast, x, ops::Cast(x, dtype), kSaveNone, kSaveNone, attrs);
}

Tensor Concat(const std::vector<Tensor>& xs, int64_t dim) {
  Tensor out = ops::Concat(xs, dim);
  OpAttrs attrs;
  int64_t d = NormalizeDim(dim, xs[0].dim(), "Concat");
  attrs.ints.push_back(d);
  for (const Tensor& x : xs) attrs.ints.push_back(x.shape()[d]);
  return autograd::Record(Op::kConcat, xs, {out}, attrs, -1, kSaveNone, kSaveNone)[0];
}

// Unary rows: x saved for Log / Relu / Gelu / Silu, y for Exp / Sqrt / Rsqrt / Tanh / Sigmoid.
Tensor Neg(const Tensor& x) { return RecordUnary(Op::kNeg, x, ops::Neg(x), kSaveNone, kSaveNone); }
Tensor Exp(const Tensor& x) { return RecordUnary(Op::kExp, x, ops::Exp(x), kSaveNone, kSaveAll); }
Tensor Log(const Tensor& x) { return RecordUnary(Op::kLog, x, ops::Log(x), kSaveAll, kSaveNone); }
Tensor Sqrt(const Tensor& x) {
  return RecordUnary(Op::kSqrt, x, ops::Sqrt(x), kSaveNone, kSaveAll);
}
Tensor Rsqrt(const Tensor& x) {
  return RecordUnary(Op::kRsqrt, x, ops::Rsqrt(x), kSaveNone, kSaveAll);
}
Tensor Tanh(const Tensor& x) {
  return RecordUnary(Op::kTanh, x, ops::Tanh(x), kSaveNone, kSaveAll);
}
Tensor Sigmoid(const Tensor& x) {
  return RecordUnary(Op::kSigmoid, x, ops::Sigmoid(x), kSaveNone, kSaveAll);
}
Tensor Relu(const Tensor& x) {
  return RecordUnary(Op::kRelu, x, ops::Relu(x), kSaveAll, kSaveNone);
}
Tensor Gelu(const Tensor& x) {
  return RecordUnary(Op::kGelu, x, ops::Gelu(x), kSaveAll, kSaveNone);
}
Tensor Silu(const Tensor& x) {
  return RecordUnary(Op::kSilu, x, ops::Silu(x), kSaveAll, kSaveNone);
}
Tensor AddScalar(const Tensor& x, double s) {
  return RecordUnary(Op::kAddScalar, x, ops::AddScalar(x, s), kSaveNone, kSaveNone);
}
Tensor MulScalar(const Tensor& x, double s) {
  OpAttrs attrs;
  attrs.floats.push_back(s);
  return RecordUnary(Op::kMulScalar, x, ops::MulScalar(x, s), kSaveNone, kSaveNone,
                     attrs);
}

Tensor Add(const Tensor& a, const Tensor& b) {
  return autograd::Record(Op::kAdd, {a, b}, {ops::Add(a, b)}, BinaryAttrs(a, b), -1, kSaveNone,
                          kSaveNone)[0];
}
Tensor Sub(const Tensor& a, const Tensor& b) {
  return autograd::Record(Op::kSub, {a, b}, {ops::Sub(a, b)}, BinaryAttrs(a, b), -1, kSaveNone,
                          kSaveNone)[0];
}
Tensor Mul(const Tensor& a, const Tensor& b) {
  // grad_a reads b, grad_b reads a.
  unsigned save = Bit(0, b.requires_grad()) | Bit(1, a.requires_grad());
  return autograd::Record(Op::kMul, {a, b}, {ops::Mul(a, b)}, BinaryAttrs(a, b), -1, save,
                          kSaveNone)[0];
}
Tensor Div(const Tensor& a, const Tensor& b) {
  // Both grads read b; grad_b also reads a.
  unsigned save = Bit(1, true) | Bit(0, b.requires_grad());
  return autograd::Record(Op::kDiv, {a, b}, {ops::Div(a, b)}, BinaryAttrs(a, b), -1, save,
                          kSaveNone)[0];
}
Tensor Maximum(const Tensor& a, const Tensor& b) {
  return autograd::Record(Op::kMaximum, {a, b}, {ops::Maximum(a, b)}, BinaryAttrs(a, b), -1,
                          kSaveAll, kSaveNone)[0];
}

Tensor Where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  return autograd::Record(Op::kWhere, {cond, a, b}, {ops::Where(cond, a, b)}, BinaryAttrs(a, b),
                          -1, Bit(0, true), kSaveNone)[0];
}

Tensor MaskedFill(const Tensor& x, const Tensor& mask, double value) {
  KILN_CHECK(x.defined()) << "MaskedFill: x is undefined";
  return Where(mask, Full({}, value, x.dtype(), x.device()), x);
}

Tensor Dropout(const Tensor& x, double p, uint64_t seed, uint64_t offset) {
  Tensor y = ops::Dropout(x, p, seed, offset);
  if (p == 0.0) return y;  // the input itself
  OpAttrs attrs;
  attrs.ints.push_back(static_cast<int64_t>(seed));
  attrs.ints.push_back(static_cast<int64_t>(offset));
  attrs.floats.push_back(p);
  return RecordUnary(Op::kDropout, x, std::move(y), kSaveNone, kSaveNone, attrs);
}

}  // namespace kiln
