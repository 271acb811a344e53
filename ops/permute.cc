// Permute / Transpose (row Permute, a VIEW): reorders sizes and strides; backward applies the
// inverse permutation.
#include "ops/api.h"
#include "ops/backward.h"

namespace kiln::ops {

Tensor Permute(const Tensor& x, const std::vector<int64_t>& dims) {
  KILN_CHECK(static_cast<int64_t>(dims.size()) == x.dim())
      << "Permute: expected " << x.dim() << " dims for a tensor of shape "
      << ShapeToString(x.shape()) << ", got " << dims.size();
  Shape sizes(dims.size()), strides(dims.size());
  std::vector<bool> seen(dims.size(), false);
  for (size_t i = 0; i < dims.size(); ++i) {
    int64_t d = NormalizeDim(dims[i], x.dim(), "Permute");
    KILN_CHECK(!seen[d]) << "Permute: dim " << dims[i] << " appears twice";
    seen[d] = true;
    sizes[i] = x.shape()[d];
    strides[i] = x.strides()[d];
  }
  return Tensor::MakeView(x.storage(), x.offset(), sizes, strides, x.dtype());
}

Tensor Transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  int64_t a = NormalizeDim(dim0, x.dim(), "Transpose"), b = NormalizeDim(dim1, x.dim(), "Transpose");
  std::vector<int64_t> dims(x.dim());
  for (int64_t i = 0; i < x.dim(); ++i) dims[i] = i;
  std::swap(dims[a], dims[b]);
  return Permute(x, dims);
}

// attrs.ints: the permutation (normalized).
std::vector<Tensor> BackwardPermute(const BackwardCtx& ctx) {
  std::vector<int64_t> inverse(ctx.attrs.ints.size());
  for (size_t i = 0; i < inverse.size(); ++i) inverse[ctx.attrs.ints[i]] = static_cast<int64_t>(i);
  return {Permute(ctx.grads[0], inverse)};
}

}  // namespace kiln::ops
