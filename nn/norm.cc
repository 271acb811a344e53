#include "autograd/api.h"
#include "nn/layers.h"

namespace kiln::nn {

LayerNorm::LayerNorm(int64_t dim, double eps) : Module("LayerNorm"), eps_(eps) {
  weight_ = RegisterParameter("weight", Ones({dim}));
  bias_ = RegisterParameter("bias", Zeros({dim}));
}

Tensor LayerNorm::Forward(const Tensor& x) const {
  return Output(kiln::LayerNorm(x, weight_, bias_, eps_));
}

RmsNorm::RmsNorm(int64_t dim, double eps) : Module("RmsNorm"), eps_(eps) {
  weight_ = RegisterParameter("weight", Ones({dim}));
}

Tensor RmsNorm::Forward(const Tensor& x) const { return Output(kiln::RmsNorm(x, weight_, eps_)); }

}  // namespace kiln::nn
