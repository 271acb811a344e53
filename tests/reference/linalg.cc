// Reference matmul and attention: triple loops in double over multi-indices.
#include <cmath>

#include "tests/reference/linalg.h"
#include "tests/reference/reference.h"

namespace kiln::reference {

Tensor Matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  std::vector<double> av = a.ToVector<double>(), bv = b.ToVector<double>();
  int64_t nd = a.dim();
  int64_t m = trans_a ? a.size(-1) : a.size(-2), k = trans_a ? a.size(-2) : a.size(-1);
  int64_t n = trans_b ? b.size(-2) : b.size(-1);
  int64_t batch = NumElements(a.shape()) / (m * k);
  Shape out_shape(a.shape().begin(), a.shape().end() - 2);
  out_shape.push_back(m);
  out_shape.push_back(n);
  std::vector<double> out(static_cast<size_t>(batch * m * n));
  int64_t b_batch_stride = b.dim() == nd && nd > 2 ? k * n : 0;
  for (int64_t bi = 0; bi < batch; ++bi) {
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double s = 0;
        for (int64_t p = 0; p < k; ++p) {
          double x = trans_a ? av[bi * m * k + p * m + i] : av[bi * m * k + i * k + p];
          double y = trans_b ? bv[bi * b_batch_stride + j * k + p] : bv[bi * b_batch_stride + p * n + j];
          s += x * y;
        }
        out[bi * m * n + i * n + j] = s;
      }
    }
  }
  return FromVector<double>(out, out_shape);
}

Tensor Attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& doc,
                 double scale) {
  std::vector<double> qv = q.ToVector<double>(), kv = k.ToVector<double>(),
                      vv = v.ToVector<double>();
  std::vector<int64_t> dv;
  if (doc.defined()) dv = doc.ToVector<int64_t>();
  int64_t B = q.size(0), NH = q.size(1), TQ = q.size(2), HS = q.size(3);
  int64_t NKV = k.size(1), TK = k.size(2);
  std::vector<double> out(qv.size(), 0.0);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < NH; ++h) {
      int64_t kh = h / (NH / NKV);
      for (int64_t i = 0; i < TQ; ++i) {
        int64_t pos = TK - TQ + i;
        int64_t start = 0;
        if (doc.defined()) {
          start = pos;
          while (start > 0 && dv[b * TK + start - 1] == dv[b * TK + pos]) --start;
        }
        std::vector<double> s;
        double mx = -INFINITY;
        for (int64_t j = start; j <= pos; ++j) {
          double dot = 0;
          for (int64_t d = 0; d < HS; ++d) {
            dot += qv[((b * NH + h) * TQ + i) * HS + d] * kv[((b * NKV + kh) * TK + j) * HS + d];
          }
          s.push_back(dot * scale);
          mx = std::max(mx, dot * scale);
        }
        double z = 0;
        for (double& x : s) z += (x = std::exp(x - mx));
        for (int64_t d = 0; d < HS; ++d) {
          double acc = 0;
          for (int64_t j = start; j <= pos; ++j) {
            acc += s[j - start] / z * vv[((b * NKV + kh) * TK + j) * HS + d];
          }
          out[((b * NH + h) * TQ + i) * HS + d] = acc;
        }
      }
    }
  }
  return FromVector<double>(out, q.shape());
}

}  // namespace kiln::reference
