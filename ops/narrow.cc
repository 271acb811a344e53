// Narrow / Split (row Narrow, a VIEW): a slice [start, start + length) of one dim. Backward writes
// the gradient into a zero tensor of the input's shape.
#include "ops/api.h"
#include "ops/backward.h"

namespace kiln::ops {

Tensor Narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  int64_t d = NormalizeDim(dim, x.dim(), "Narrow");
  int64_t n = x.shape()[d];
  if (start < 0) start += n;
  KILN_CHECK(start >= 0 && length >= 0 && start + length <= n)
      << "Narrow: slice [" << start << ", " << start + length << ") is out of range for dim " << dim
      << " of size " << n;
  Shape sizes = x.shape();
  sizes[d] = length;
  return Tensor::MakeView(x.storage(), x.offset() + start * x.strides()[d], sizes, x.strides(),
                          x.dtype());
}

std::vector<Tensor> Split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  int64_t d = NormalizeDim(dim, x.dim(), "Split");
  int64_t total = 0;
  for (int64_t s : sizes) {
    KILN_CHECK(s >= 0) << "Split: negative size " << s;
    total += s;
  }
  KILN_CHECK(total == x.shape()[d]) << "Split: sizes sum to " << total << " but dim " << dim
                                    << " has size " << x.shape()[d];
  std::vector<Tensor> out;
  int64_t start = 0;
  for (int64_t s : sizes) {
    out.push_back(Narrow(x, d, start, s));
    start += s;
  }
  return out;
}

// attrs.ints: dim, start, then the input's shape.
std::vector<Tensor> BackwardNarrow(const BackwardCtx& ctx) {
  int64_t dim = ctx.attrs.ints[0], start = ctx.attrs.ints[1];
  Shape in_shape(ctx.attrs.ints.begin() + 2, ctx.attrs.ints.end());
  const Tensor& g = ctx.grads[0];
  Tensor grad = Zeros(in_shape, g.dtype(), g.device());
  CopyInto(Narrow(grad, dim, start, g.shape()[dim]), g);
  return {grad};
}

}  // namespace kiln::ops
