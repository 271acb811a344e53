// Differentiable Matmul and Attention.
#include <cmath>

#include "autograd/api.h"
#include "autograd/grad_mode.h"
#include "autograd/node.h"

namespace kiln {

namespace {

// A parameter read without autograd (generation, evaluation) is read again unchanged by the next
// call unless an optimizer step or a load writes it (which bumps its storage version), so the
// backend may keep it pre-packed. Under autograd (training) weights change every step: no cache.
bool StableWeight(const Tensor& w) { return !GradEnabled() && w.requires_grad(); }

}  // namespace

Tensor AutocastOperand(const Tensor& t) {
  if (AutocastDtype() != DType::kBF16 || !t.defined() || t.dtype() != DType::kF32) return t;
  return Cast(t, DType::kBF16);
}

Tensor Matmul(const Tensor& a_in, const Tensor& b_in, bool trans_a, bool trans_b) {
  const Tensor a = AutocastOperand(a_in), b = AutocastOperand(b_in);
  OpAttrs attrs;
  attrs.ints = {trans_a ? 1 : 0, trans_b ? 1 : 0};
  return autograd::Record(Op::kMatmul, {a, b},
                          {ops::Matmul(a, b, trans_a, trans_b, StableWeight(b))}, attrs, -1,
                          autograd::kSaveAll, autograd::kSaveNone)[0];
}

Tensor Linear(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias) {
  const Tensor x = AutocastOperand(x_in), weight = AutocastOperand(weight_in);
  // Saved: x, weight (the bias gradient needs only the output gradient).
  return autograd::Record(Op::kLinear, {x, weight, bias},
                          {ops::Linear(x, weight, bias, StableWeight(weight))}, {}, -1, 0b011u,
                          autograd::kSaveNone)[0];
}

Tensor Attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in, const Tensor& doc_ids,
                 double scale) {
  const Tensor q = AutocastOperand(q_in), k = AutocastOperand(k_in), v = AutocastOperand(v_in);
  if (scale <= 0) scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  std::vector<Tensor> outs = ops::Attention(q, k, v, doc_ids, scale);
  OpAttrs attrs;
  attrs.floats = {scale};
  return autograd::Record(Op::kAttention, {q, k, v, doc_ids}, std::move(outs), attrs, 1)[0];
}

}  // namespace kiln
