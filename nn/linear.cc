#include "autograd/api.h"
#include "nn/fusion.h"
#include "nn/layers.h"

namespace kiln::nn {

Linear::Linear(int64_t in_features, int64_t out_features, bool bias)
    : Module("Linear"), in_(in_features), out_(out_features) {
  weight_ = RegisterParameter("weight", Zeros({out_features, in_features}));
  if (bias) bias_ = RegisterParameter("bias", Zeros({out_features}));
}

Tensor Linear::Forward(const Tensor& x) const {
  KILN_CHECK(x.dim() >= 1 && x.size(-1) == in_) << FullName() << ": Linear(" << in_ << ", " << out_
                                                << ") got input of shape "
                                                << ShapeToString(x.shape());
  Shape out_shape = x.shape();
  out_shape.back() = out_;
  // Rows are independent in kiln's GEMM (each output element is one FMA chain over k), so
  // flattening the leading dims changes no bits.
  Tensor rows = Reshape(x, {x.numel() / in_, in_});
  // The bias is folded into the GEMM (kiln::Linear): no broadcast add pass, and its gradient is a
  // fixed-order column sum read in place.
  Tensor y;
  if (ActiveFusion().linear) {
    y = kiln::Linear(rows, weight_, bias_);
  } else {
    y = Matmul(rows, weight_, /*trans_a=*/false, /*trans_b=*/true);
    if (bias_.defined()) y = y + bias_;
  }
  return Output(Reshape(y, out_shape));
}

}  // namespace kiln::nn
