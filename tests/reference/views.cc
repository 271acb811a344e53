// Reference views: computed element by element from multi-indices (no strides involved).
#include "tests/reference/reference.h"

namespace kiln::reference {

std::vector<int64_t> Unravel(int64_t flat, const Shape& shape) {
  std::vector<int64_t> idx(shape.size());
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  return idx;
}

int64_t Ravel(const std::vector<int64_t>& index, const Shape& shape) {
  int64_t flat = 0;
  for (size_t d = 0; d < shape.size(); ++d) flat = flat * shape[d] + index[d];
  return flat;
}

Tensor Values(const Tensor& x) { return FromVector<double>(x.ToVector<double>(), x.shape()); }

Tensor Permute(const Tensor& x, const std::vector<int64_t>& dims) {
  std::vector<double> in = x.ToVector<double>();
  Shape out_shape(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) out_shape[i] = x.shape()[dims[i]];
  std::vector<double> out(in.size());
  for (int64_t f = 0; f < static_cast<int64_t>(out.size()); ++f) {
    std::vector<int64_t> oi = Unravel(f, out_shape), ii(dims.size());
    for (size_t i = 0; i < dims.size(); ++i) ii[dims[i]] = oi[i];
    out[f] = in[Ravel(ii, x.shape())];
  }
  return FromVector<double>(out, out_shape);
}

Tensor Narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  std::vector<double> in = x.ToVector<double>();
  Shape out_shape = x.shape();
  out_shape[dim] = length;
  std::vector<double> out(static_cast<size_t>(NumElements(out_shape)));
  for (int64_t f = 0; f < static_cast<int64_t>(out.size()); ++f) {
    std::vector<int64_t> idx = Unravel(f, out_shape);
    idx[dim] += start;
    out[f] = in[Ravel(idx, x.shape())];
  }
  return FromVector<double>(out, out_shape);
}

Tensor Expand(const Tensor& x, const Shape& shape) {
  std::vector<double> in = x.ToVector<double>();
  std::vector<double> out(static_cast<size_t>(NumElements(shape)));
  int64_t lead = static_cast<int64_t>(shape.size()) - x.dim();
  for (int64_t f = 0; f < static_cast<int64_t>(out.size()); ++f) {
    std::vector<int64_t> oi = Unravel(f, shape), ii(x.dim());
    for (int64_t d = 0; d < x.dim(); ++d) ii[d] = x.shape()[d] == 1 ? 0 : oi[d + lead];
    out[f] = in[Ravel(ii, x.shape())];
  }
  return FromVector<double>(out, shape);
}

}  // namespace kiln::reference
