// The per-row forward math of LayerNorm and RmsNorm, shared by the plain kernels
// (cpu/layer_norm.cc, cpu/rms_norm.cc) and the residual-fused ones (cpu/add_layer_norm.cc,
// cpu/add_rms_norm.cc), so a fused row has the bits of the plain op on the summed row. Internal
// linkage only (each per-ISA file gets its copy).
#pragma once

#include <cmath>
#include <cstdint>

#include "cpu/reduce.h"

namespace kiln::cpu {
namespace {
namespace norm {

// y = (x - mean) rstd w (+ b); mean and the biased variance two-pass in cpu/reduce.h's order.
template <typename T>
inline void LayerNormRow(const T* x, const T* w, const T* b, T* y, int64_t c, T eps, T* mean_out,
                         T* rstd_out) {
  const T ct = static_cast<T>(c);
  const T mean = reduce::RowSum<T>(c, [x](int64_t j) { return x[j]; }) / ct;
  const T var = reduce::RowSum<T>(c,
                                  [x, mean](int64_t j) {
                                    const T d = x[j] - mean;
                                    return d * d;
                                  }) /
                ct;
  const T rstd = T(1) / std::sqrt(var + eps);
  for (int64_t j = 0; j < c; ++j) {
    const T v = ((x[j] - mean) * rstd) * w[j];
    y[j] = b != nullptr ? v + b[j] : v;
  }
  *mean_out = mean;
  *rstd_out = rstd;
}

// y = x rstd w, rstd = 1 / sqrt(mean(x^2) + eps).
template <typename T>
inline void RmsNormRow(const T* x, const T* w, T* y, int64_t c, T eps, T* rstd_out) {
  const T ct = static_cast<T>(c);
  const T ms = reduce::RowSum<T>(c, [x](int64_t j) { return x[j] * x[j]; }) / ct;
  const T rstd = T(1) / std::sqrt(ms + eps);
  for (int64_t j = 0; j < c; ++j) y[j] = (x[j] * rstd) * w[j];
  *rstd_out = rstd;
}

}  // namespace norm
}  // namespace
}  // namespace kiln::cpu
