// Expand (a VIEW): broadcast to a larger shape with stride 0; backward sums over the expanded dims.
#include "ops/api.h"
#include "ops/backward.h"

namespace kiln::ops {

Tensor Expand(const Tensor& x, const Shape& shape) {
  KILN_CHECK(static_cast<int64_t>(shape.size()) >= x.dim())
      << "Expand: cannot expand shape " << ShapeToString(x.shape()) << " to "
      << ShapeToString(shape) << " (fewer dims)";
  KILN_CHECK(shape.size() <= 8) << "Expand: at most 8 dims";
  int64_t lead = static_cast<int64_t>(shape.size()) - x.dim();
  Shape sizes(shape.size()), strides(shape.size());
  for (int64_t i = 0; i < static_cast<int64_t>(shape.size()); ++i) {
    int64_t want = shape[i];
    if (i < lead) {
      KILN_CHECK(want >= 0) << "Expand: size -1 is not allowed for new leading dim " << i;
      sizes[i] = want;
      strides[i] = 0;
      continue;
    }
    int64_t have = x.shape()[i - lead];
    if (want == -1) want = have;
    KILN_CHECK(have == want || have == 1)
        << "Expand: cannot expand shape " << ShapeToString(x.shape()) << " to "
        << ShapeToString(shape) << " (dim " << i << ": " << have << " vs " << want << ")";
    sizes[i] = want;
    strides[i] = have == want ? x.strides()[i - lead] : 0;
  }
  return Tensor::MakeView(x.storage(), x.offset(), sizes, strides, x.dtype());
}

// attrs.ints: the input's shape.
std::vector<Tensor> BackwardExpand(const BackwardCtx& ctx) {
  Shape in_shape(ctx.attrs.ints.begin(), ctx.attrs.ints.end());
  return {SumToShape(ctx.grads[0], in_shape)};
}

Tensor SumToShape(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  int64_t lead = grad.dim() - static_cast<int64_t>(shape.size());
  KILN_CHECK(lead >= 0) << "SumToShape: cannot reduce " << ShapeToString(grad.shape()) << " to "
                        << ShapeToString(shape);
  std::vector<int64_t> dims;
  for (int64_t i = 0; i < grad.dim(); ++i) {
    if (i < lead || (shape[i - lead] == 1 && grad.shape()[i] != 1)) dims.push_back(i);
  }
  Tensor s = dims.empty() ? grad : Sum(grad, dims, /*keepdim=*/true);
  return Reshape(s, shape);
}

}  // namespace kiln::ops
