// Differentiable transformer layers of the reduction family (LayerNorm, RmsNorm, Rope,
// AddLayerNorm, AddRmsNorm, Swiglu, CrossEntropy, LinearCrossEntropy): the plain op plus Record.
// Statistics outputs (mean, rstd, lse) are saved for the fused backward rows but are not
// differentiable.
#include "autograd/api.h"
#include "autograd/node.h"

namespace kiln {

using autograd::kSaveNone;

Tensor LayerNorm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  std::vector<Tensor> outs = ops::LayerNorm(x, weight, bias, eps);
  OpAttrs a;
  a.floats.push_back(eps);
  // Saved: inputs x, weight (bits 0, 1); outputs mean, rstd (bits 1, 2).
  return autograd::Record(Op::kLayerNorm, {x, weight, bias}, std::move(outs), a, 1, 0b011u,
                          0b110u)[0];
}

Tensor RmsNorm(const Tensor& x, const Tensor& weight, double eps) {
  std::vector<Tensor> outs = ops::RmsNorm(x, weight, eps);
  OpAttrs a;
  a.floats.push_back(eps);
  // Saved: inputs x, weight; output rstd.
  return autograd::Record(Op::kRmsNorm, {x, weight}, std::move(outs), a, 1, 0b11u, 0b10u)[0];
}

Tensor Rope(const Tensor& x, const Tensor& positions, double theta) {
  Tensor y = ops::Rope(x, positions, theta, /*inverse=*/false);
  OpAttrs a;
  a.ints.push_back(0);  // inverse
  a.floats.push_back(theta);
  // Saved: positions only (the backward is a rotation of the gradient).
  return autograd::Record(Op::kRope, {x, positions}, {y}, a, -1, 0b10u, kSaveNone)[0];
}

std::pair<Tensor, Tensor> AddLayerNorm(const Tensor& x, const Tensor& residual,
                                       const Tensor& weight, const Tensor& bias, double eps) {
  std::vector<Tensor> outs = ops::AddLayerNorm(x, residual, weight, bias, eps);
  OpAttrs a;
  a.floats.push_back(eps);
  // Saved: weight (bit 2); outputs h, mean, rstd (bits 1, 2, 3). y and h are differentiable.
  std::vector<Tensor> r = autograd::Record(Op::kAddLayerNorm, {x, residual, weight, bias},
                                           std::move(outs), a, 2, 0b0100u, 0b1110u);
  return {r[0], r[1]};
}

std::pair<Tensor, Tensor> AddRmsNorm(const Tensor& x, const Tensor& residual,
                                     const Tensor& weight, double eps) {
  std::vector<Tensor> outs = ops::AddRmsNorm(x, residual, weight, eps);
  OpAttrs a;
  a.floats.push_back(eps);
  // Saved: weight (bit 2); outputs h, rstd (bits 1, 2). y and h are differentiable.
  std::vector<Tensor> r = autograd::Record(Op::kAddRmsNorm, {x, residual, weight},
                                           std::move(outs), a, 2, 0b100u, 0b110u);
  return {r[0], r[1]};
}

Tensor Swiglu(const Tensor& gate, const Tensor& up) {
  Tensor y = ops::Swiglu(gate, up);
  return autograd::Record(Op::kSwiglu, {gate, up}, {y}, {}, -1, 0b11u, autograd::kSaveNone)[0];
}

Tensor CrossEntropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index,
                    double label_smoothing) {
  std::vector<Tensor> outs = ops::CrossEntropy(logits, targets, ignore_index, label_smoothing);
  OpAttrs a;
  a.ints.push_back(ignore_index);
  a.floats.push_back(label_smoothing);
  // Saved: logits, targets; output lse.
  return autograd::Record(Op::kCrossEntropy, {logits, targets}, std::move(outs), a, 1, 0b11u,
                          0b10u)[0];
}

Tensor LinearCrossEntropy(const Tensor& hidden_in, const Tensor& weight_in, const Tensor& targets,
                          int64_t ignore_index, double label_smoothing) {
  const Tensor hidden = AutocastOperand(hidden_in), weight = AutocastOperand(weight_in);
  std::vector<Tensor> outs =
      ops::LinearCrossEntropy(hidden, weight, targets, ignore_index, label_smoothing);
  OpAttrs a;
  a.ints.push_back(ignore_index);
  a.floats.push_back(label_smoothing);
  // Saved: hidden, weight, targets; output lse.
  return autograd::Record(Op::kLinearCrossEntropy, {hidden, weight, targets}, std::move(outs), a,
                          1, 0b111u, 0b10u)[0];
}

}  // namespace kiln
