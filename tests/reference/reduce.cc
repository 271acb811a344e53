// Reference reductions: every element is assigned to its output group by zeroing the reduced
// coordinates of its multi-index; each group is then reduced with a plain loop in double.
#include "tests/reference/reduce.h"

#include <cmath>
#include <limits>

#include "tests/reference/reference.h"

namespace kiln::reference {
namespace {

struct Groups {
  Shape keep_shape, out_shape;
  std::vector<std::vector<double>> values;    // per output group
  std::vector<std::vector<int64_t>> members;  // flat indices into x, per group
};

Groups Group(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Groups g;
  std::vector<bool> red(x.dim(), dims.empty());
  for (int64_t d : dims) red[d < 0 ? d + x.dim() : d] = true;
  for (int64_t d = 0; d < x.dim(); ++d) {
    g.keep_shape.push_back(red[d] ? 1 : x.shape()[d]);
    if (!red[d] || keepdim) g.out_shape.push_back(red[d] ? 1 : x.shape()[d]);
  }
  std::vector<double> v = x.ToVector<double>();
  g.values.resize(static_cast<size_t>(NumElements(g.keep_shape)));
  g.members.resize(g.values.size());
  for (int64_t f = 0; f < static_cast<int64_t>(v.size()); ++f) {
    std::vector<int64_t> idx = Unravel(f, x.shape());
    for (int64_t d = 0; d < x.dim(); ++d) {
      if (red[d]) idx[d] = 0;
    }
    int64_t o = Ravel(idx, g.keep_shape);
    g.values[o].push_back(v[f]);
    g.members[o].push_back(f);
  }
  return g;
}

double MaxOf(const std::vector<double>& v) {
  double m = -std::numeric_limits<double>::infinity();
  for (double e : v) {
    if (std::isnan(e)) return e;
    m = std::max(m, e);
  }
  return m;
}

double LseOf(const std::vector<double>& v) {
  double m = MaxOf(v);
  if (!std::isfinite(m)) return m;
  double s = 0;
  for (double e : v) s += std::exp(e - m);
  return m + std::log(s);
}

}  // namespace

Tensor Reduce(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim,
              const std::function<double(const std::vector<double>&)>& fn, DType dtype) {
  Groups g = Group(x, dims, keepdim);
  std::vector<double> out;
  for (const auto& vals : g.values) out.push_back(fn(vals));
  return FromVector<double>(out, g.out_shape, dtype);
}

Tensor Sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return Reduce(x, dims, keepdim, [](const std::vector<double>& v) {
    double s = 0;
    for (double e : v) s += e;
    return s;
  });
}

Tensor Mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return Reduce(x, dims, keepdim, [](const std::vector<double>& v) {
    double s = 0;
    for (double e : v) s += e;
    return s / static_cast<double>(v.size());
  });
}

Tensor Max(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return Reduce(x, dims, keepdim, MaxOf);
}

Tensor Argmax(const Tensor& x, int64_t dim, bool keepdim) {
  return Reduce(
      x, {dim}, keepdim,
      [](const std::vector<double>& v) {
        size_t best = 0;
        for (size_t j = 0; j < v.size(); ++j) {
          if (std::isnan(v[j])) return static_cast<double>(j);
          if (v[j] > v[best]) best = j;
        }
        return static_cast<double>(best);
      },
      DType::kI64);
}

Tensor Logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  return Reduce(x, dims, keepdim, LseOf);
}

namespace {

Tensor AlongDim(const Tensor& x, int64_t dim, bool log) {
  Groups g = Group(x, {dim}, true);
  std::vector<double> out(static_cast<size_t>(x.numel()));
  for (size_t o = 0; o < g.values.size(); ++o) {
    double lse = LseOf(g.values[o]);
    for (size_t j = 0; j < g.values[o].size(); ++j) {
      double l = g.values[o][j] - lse;
      out[g.members[o][j]] = log ? l : std::exp(l);
    }
  }
  return FromVector<double>(out, x.shape());
}

}  // namespace

Tensor Softmax(const Tensor& x, int64_t dim) { return AlongDim(x, dim, false); }
Tensor LogSoftmax(const Tensor& x, int64_t dim) { return AlongDim(x, dim, true); }

Tensor MaxBackward(const Tensor& x, const Tensor& grad, const std::vector<int64_t>& dims,
                   bool keepdim) {
  Groups g = Group(x, dims, keepdim);
  std::vector<double> gv = grad.ToVector<double>();
  std::vector<double> out(static_cast<size_t>(x.numel()), 0.0);
  for (size_t o = 0; o < g.values.size(); ++o) {
    double m = MaxOf(g.values[o]);
    int ties = 0;
    for (double e : g.values[o]) ties += e == m;
    for (size_t j = 0; j < g.values[o].size(); ++j) {
      if (g.values[o][j] == m) out[g.members[o][j]] = gv[o] / ties;
    }
  }
  return FromVector<double>(out, x.shape());
}

}  // namespace kiln::reference
