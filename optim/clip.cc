// Global-norm clipping. One ops::Sum per tensor keeps the reduction in kiln's fixed-order kernels;
// the cross-tensor sum is a plain double loop in param order.
#include "optim/clip.h"

#include <cmath>

#include "ops/api.h"

namespace kiln::optim {

double GradNorm(const std::vector<Tensor>& params) {
  double sum_sq = 0.0;
  for (const Tensor& p : params) {
    const Tensor g = p.defined() ? p.grad() : Tensor();
    if (!g.defined() || g.numel() == 0) continue;
    sum_sq += ops::Sum(ops::Mul(g, g)).item();
  }
  return std::sqrt(sum_sq);
}

double ClipGradNorm(const std::vector<Tensor>& params, double max_norm) {
  KILN_CHECK(max_norm > 0) << "ClipGradNorm: expected max_norm > 0, got " << max_norm;
  const double norm = GradNorm(params);
  if (!std::isfinite(norm)) return norm;
  const double coef = max_norm / (norm + 1e-6);
  if (coef >= 1.0) return norm;
  for (const Tensor& p : params) {
    const Tensor g = p.defined() ? p.grad() : Tensor();
    if (g.defined()) p.set_grad(ops::MulScalar(g, coef));
  }
  return norm;
}

}  // namespace kiln::optim
