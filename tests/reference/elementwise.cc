// Naive references for the elementwise family: every output element is computed from its
// multi-index with std:: math in f64, independent of kiln's kernels, strides and kmath.
#include "tests/reference/elementwise.h"

#include <algorithm>
#include <cmath>

#include "base/rng.h"
#include "tests/reference/reference.h"

namespace kiln::reference {
namespace {

// Index into `shape` (right-aligned) of the broadcast multi-index `out_idx`.
int64_t BroadcastSource(const std::vector<int64_t>& out_idx, const Shape& shape) {
  int64_t lead = static_cast<int64_t>(out_idx.size()) - static_cast<int64_t>(shape.size());
  std::vector<int64_t> idx(shape.size());
  for (size_t d = 0; d < shape.size(); ++d) idx[d] = shape[d] == 1 ? 0 : out_idx[d + lead];
  return Ravel(idx, shape);
}

Shape Broadcast(const Shape& a, const Shape& b) {
  size_t n = std::max(a.size(), b.size());
  Shape out(n);
  for (size_t i = 0; i < n; ++i) {
    int64_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    int64_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    out[i] = da == 1 ? db : da;
  }
  return out;
}

}  // namespace

Tensor Map(const Tensor& x, const std::function<double(double)>& fn) {
  std::vector<double> v = x.ToVector<double>();
  for (double& e : v) e = fn(e);
  return FromVector<double>(v, x.shape());
}

Tensor Zip(const Tensor& a, const Tensor& b, const std::function<double(double, double)>& fn) {
  Shape shape = Broadcast(a.shape(), b.shape());
  std::vector<double> va = a.ToVector<double>(), vb = b.ToVector<double>();
  std::vector<double> out(static_cast<size_t>(NumElements(shape)));
  for (int64_t f = 0; f < static_cast<int64_t>(out.size()); ++f) {
    std::vector<int64_t> idx = Unravel(f, shape);
    out[f] = fn(va[BroadcastSource(idx, a.shape())], vb[BroadcastSource(idx, b.shape())]);
  }
  return FromVector<double>(out, shape);
}

Tensor Where(const Tensor& cond, const Tensor& a, const Tensor& b) {
  Shape shape = Broadcast(Broadcast(cond.shape(), a.shape()), b.shape());
  std::vector<double> vc = cond.ToVector<double>(), va = a.ToVector<double>(),
                      vb = b.ToVector<double>();
  std::vector<double> out(static_cast<size_t>(NumElements(shape)));
  for (int64_t f = 0; f < static_cast<int64_t>(out.size()); ++f) {
    std::vector<int64_t> idx = Unravel(f, shape);
    out[f] = vc[BroadcastSource(idx, cond.shape())] != 0 ? va[BroadcastSource(idx, a.shape())]
                                                         : vb[BroadcastSource(idx, b.shape())];
  }
  return FromVector<double>(out, shape);
}

double Sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
double Gelu(double x) {
  return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (x + 0.044715 * x * x * x)));
}
double Silu(double x) { return x * Sigmoid(x); }

double RoundToBits(double x, int bits, int min_exp) {
  double v = static_cast<double>(static_cast<float>(x));
  if (v == 0 || !std::isfinite(v)) return v;
  int e;
  std::frexp(v, &e);
  double quantum = std::ldexp(1.0, std::max(e, min_exp) - bits);
  return std::nearbyint(v / quantum) * quantum;
}

Tensor Concat(const std::vector<Tensor>& xs, int64_t dim) {
  if (dim < 0) dim += xs[0].dim();
  Shape shape = xs[0].shape();
  shape[dim] = 0;
  for (const auto& x : xs) shape[dim] += x.shape()[dim];
  std::vector<double> out(static_cast<size_t>(NumElements(shape)));
  for (int64_t f = 0; f < static_cast<int64_t>(out.size()); ++f) {
    std::vector<int64_t> idx = Unravel(f, shape);
    size_t k = 0;
    while (idx[dim] >= xs[k].shape()[dim]) idx[dim] -= xs[k++].shape()[dim];
    out[f] = xs[k].ToVector<double>()[Ravel(idx, xs[k].shape())];
  }
  return FromVector<double>(out, shape);
}

Tensor Gather(const Tensor& x, int64_t dim, const Tensor& index) {
  if (dim < 0) dim += x.dim();
  std::vector<double> vx = x.ToVector<double>();
  std::vector<int64_t> vi = index.ToVector<int64_t>();
  std::vector<double> out(vi.size());
  for (int64_t f = 0; f < static_cast<int64_t>(out.size()); ++f) {
    std::vector<int64_t> idx = Unravel(f, index.shape());
    idx[dim] = vi[f];
    out[f] = vx[Ravel(idx, x.shape())];
  }
  return FromVector<double>(out, index.shape());
}

Tensor Embedding(const Tensor& weight, const Tensor& ids) {
  std::vector<double> w = weight.ToVector<double>();
  std::vector<int64_t> vi = ids.ToVector<int64_t>();
  int64_t c = weight.shape()[1];
  std::vector<double> out;
  for (int64_t id : vi) {
    for (int64_t j = 0; j < c; ++j) out.push_back(w[id * c + j]);
  }
  Shape shape = ids.shape();
  shape.push_back(c);
  return FromVector<double>(out, shape);
}

Tensor Dropout(const Tensor& x, double p, uint64_t seed, uint64_t offset) {
  std::vector<double> v = x.ToVector<double>();
  for (size_t i = 0; i < v.size(); ++i) {
    uint32_t bits = Philox(seed, offset + i).v[0];
    double u = static_cast<double>(bits >> 8) / 16777216.0;
    v[i] = u >= p ? v[i] / (1.0 - p) : 0.0;
  }
  return FromVector<double>(v, x.shape());
}

}  // namespace kiln::reference
