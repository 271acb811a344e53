// Differentiable Matmul and Attention.
#include <cmath>

#include "autograd/api.h"
#include "autograd/node.h"

namespace kiln {

Tensor Matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  OpAttrs attrs;
  attrs.ints = {trans_a ? 1 : 0, trans_b ? 1 : 0};
  return autograd::Record(Op::kMatmul, {a, b}, {ops::Matmul(a, b, trans_a, trans_b)}, attrs, -1,
                          autograd::kSaveAll, autograd::kSaveNone)[0];
}

Tensor Linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  // Saved: x, weight (the bias gradient needs only the output gradient).
  return autograd::Record(Op::kLinear, {x, weight, bias}, {ops::Linear(x, weight, bias)}, {}, -1,
                          0b011u, autograd::kSaveNone)[0];
}

Tensor Attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& doc_ids,
                 double scale) {
  if (scale <= 0) scale = 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
  std::vector<Tensor> outs = ops::Attention(q, k, v, doc_ids, scale);
  OpAttrs attrs;
  attrs.floats = {scale};
  return autograd::Record(Op::kAttention, {q, k, v, doc_ids}, std::move(outs), attrs, 1)[0];
}

}  // namespace kiln
