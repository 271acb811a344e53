// Reference transformer layers: one row (or one token) at a time in double.
#include "tests/reference/layers.h"

#include <cmath>

namespace kiln::reference {

Tensor LayerNorm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps) {
  std::vector<double> v = x.ToVector<double>(), w = weight.ToVector<double>();
  std::vector<double> b = bias.defined() ? bias.ToVector<double>() : std::vector<double>(w.size());
  const size_t c = w.size();
  std::vector<double> y(v.size());
  for (size_t r = 0; r * c < v.size(); ++r) {
    double mean = 0, var = 0;
    for (size_t j = 0; j < c; ++j) mean += v[r * c + j];
    mean /= c;
    for (size_t j = 0; j < c; ++j) var += (v[r * c + j] - mean) * (v[r * c + j] - mean);
    var /= c;
    for (size_t j = 0; j < c; ++j) {
      y[r * c + j] = (v[r * c + j] - mean) / std::sqrt(var + eps) * w[j] + b[j];
    }
  }
  return FromVector<double>(y, x.shape());
}

Tensor RmsNorm(const Tensor& x, const Tensor& weight, double eps) {
  std::vector<double> v = x.ToVector<double>(), w = weight.ToVector<double>();
  const size_t c = w.size();
  std::vector<double> y(v.size());
  for (size_t r = 0; r * c < v.size(); ++r) {
    double ms = 0;
    for (size_t j = 0; j < c; ++j) ms += v[r * c + j] * v[r * c + j];
    ms /= c;
    for (size_t j = 0; j < c; ++j) y[r * c + j] = v[r * c + j] / std::sqrt(ms + eps) * w[j];
  }
  return FromVector<double>(y, x.shape());
}

Tensor Rope(const Tensor& x, const Tensor& positions, double theta, bool inverse) {
  std::vector<double> v = x.ToVector<double>();
  std::vector<int64_t> pos = positions.ToVector<int64_t>();
  const int64_t nh = x.shape()[2], hs = x.shape()[3], half = hs / 2;
  std::vector<double> y(v.size());
  for (size_t bt = 0; bt < pos.size(); ++bt) {
    for (int64_t h = 0; h < nh; ++h) {
      const size_t base = (bt * nh + h) * hs;
      for (int64_t i = 0; i < half; ++i) {
        double angle = static_cast<double>(pos[bt]) * std::pow(theta, -2.0 * i / hs);
        if (inverse) angle = -angle;
        const double c = std::cos(angle), s = std::sin(angle);
        const double x1 = v[base + i], x2 = v[base + i + half];
        y[base + i] = x1 * c - x2 * s;
        y[base + i + half] = x2 * c + x1 * s;
      }
    }
  }
  return FromVector<double>(y, x.shape());
}

Tensor CrossEntropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index,
                    double label_smoothing) {
  std::vector<double> v = logits.ToVector<double>();
  std::vector<int64_t> t = targets.ToVector<int64_t>();
  const size_t n = t.size(), vocab = static_cast<size_t>(logits.shape()[1]);
  std::vector<double> loss(n, 0.0);
  for (size_t i = 0; i < n; ++i) {
    if (t[i] == ignore_index) continue;
    const double* row = v.data() + i * vocab;
    double m = row[0];
    for (size_t j = 0; j < vocab; ++j) m = std::max(m, row[j]);
    double s = 0;
    for (size_t j = 0; j < vocab; ++j) s += std::exp(row[j] - m);
    const double lse = m + std::log(s);
    // (1 - ls) * nll + ls * mean_j(-log_softmax_j)
    double smooth = 0;
    for (size_t j = 0; j < vocab; ++j) smooth += lse - row[j];
    loss[i] = (1 - label_smoothing) * (lse - row[t[i]]) + label_smoothing * smooth / vocab;
  }
  return FromVector<double>(loss, {static_cast<int64_t>(n)});
}

Tensor AdamWSteps(const Tensor& param, const Tensor& grads, double lr, double beta1, double beta2,
                  double eps, double weight_decay) {
  std::vector<double> p = param.ToVector<double>(), g = grads.ToVector<double>();
  const size_t n = p.size(), steps = g.size() / n;
  std::vector<double> m(n, 0.0), v(n, 0.0);
  for (size_t s = 1; s <= steps; ++s) {
    for (size_t i = 0; i < n; ++i) {
      const double gi = g[(s - 1) * n + i];
      p[i] -= lr * weight_decay * p[i];
      m[i] = beta1 * m[i] + (1 - beta1) * gi;
      v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
      const double mhat = m[i] / (1 - std::pow(beta1, s));
      const double vhat = v[i] / (1 - std::pow(beta2, s));
      p[i] -= lr * mhat / (std::sqrt(vhat) + eps);
    }
  }
  std::vector<double> out = p;
  out.insert(out.end(), m.begin(), m.end());
  out.insert(out.end(), v.begin(), v.end());
  return FromVector<double>(out, {static_cast<int64_t>(3 * n)});
}

}  // namespace kiln::reference
