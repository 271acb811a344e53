// Unbind (row Unbind, a VIEW): x -> the slices x.select(dim, i) for every i, as views. Its
// backward writes all the slices' gradients into one fresh tensor of x's shape (zeros only for a
// slice without a gradient): for a fused q/k/v projection this is one pass, where three Narrow
// backwards would build three zero tensors of the full shape and add them.
#include "ops/api.h"
#include "ops/backward.h"

namespace kiln::ops {

std::vector<Tensor> Unbind(const Tensor& x, int64_t dim) {
  const int64_t d = NormalizeDim(dim, x.dim(), "Unbind");
  Shape sizes = x.shape();
  Shape strides = x.strides();
  const int64_t n = sizes[d], step = strides[d];
  sizes.erase(sizes.begin() + d);
  strides.erase(strides.begin() + d);
  std::vector<Tensor> out;
  for (int64_t i = 0; i < n; ++i) {
    out.push_back(Tensor::MakeView(x.storage(), x.offset() + i * step, sizes, strides, x.dtype()));
  }
  return out;
}

// attrs.ints: dim, then the input's shape.
std::vector<Tensor> BackwardUnbind(const BackwardCtx& ctx) {
  const int64_t dim = ctx.attrs.ints[0];
  Shape in_shape(ctx.attrs.ints.begin() + 1, ctx.attrs.ints.end());
  DType dtype = DType::kF32;
  Device device = Device::CPU();
  for (const Tensor& g : ctx.grads) {
    if (g.defined()) dtype = g.dtype(), device = g.device();
  }
  Tensor grad = Tensor::Empty(in_shape, dtype, device);
  for (int64_t i = 0; i < in_shape[dim]; ++i) {
    Tensor slice = Narrow(grad, dim, i, 1);
    const Tensor& g = ctx.grads[i];
    if (g.defined()) {
      CopyInto(slice, Reshape(g, slice.shape()));
    } else {
      CopyInto(slice, Zeros(slice.shape(), dtype, device));
    }
  }
  return {grad};
}

}  // namespace kiln::ops
