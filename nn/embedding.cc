#include "autograd/api.h"
#include "nn/layers.h"

namespace kiln::nn {

Embedding::Embedding(int64_t num, int64_t dim) : Module("Embedding") {
  weight_ = RegisterParameter("weight", Zeros({num, dim}));
}

Tensor Embedding::Forward(const Tensor& ids) const {
  return Output(kiln::Embedding(weight_, ids));
}

}  // namespace kiln::nn
