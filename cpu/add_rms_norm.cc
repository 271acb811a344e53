// Residual add fused with RmsNorm (row AddRmsNorm): h = x + r, y = RmsNorm(h), in one pass over
// each row. The row math is RmsNorm's (cpu/norm_rows.h), so y and rstd have the bits of
// RmsNorm(x + r); the backward is RmsNormBackward's (ops/add_rms_norm.cc).
#include <cstdint>

#include "base/thread_pool.h"
#include "cpu/kernels.h"
#include "cpu/norm_rows.h"

namespace kiln::cpu::KILN_ISA_NS {
namespace {

constexpr int64_t kParallelMin = 1 << 12;  // scheduling only

template <typename T>
void Forward(const KernelArgs& args) {
  const int64_t rows = args.in[0].sizes[0], c = args.in[0].sizes[1];
  const T* xp = static_cast<const T*>(args.in[0].data);
  const T* rp = static_cast<const T*>(args.in[1].data);
  const T* w = static_cast<const T*>(args.in[2].data);
  T* yp = static_cast<T*>(args.out[0].data);
  T* hp = static_cast<T*>(args.out[1].data);
  T* rstd_out = static_cast<T*>(args.out[2].data);
  const T eps = static_cast<T>(args.fattr[0]);
  kiln::ParallelForWork(rows, c, kParallelMin, [&](int64_t r_lo, int64_t r_hi) {
    for (int64_t r = r_lo; r < r_hi; ++r) {
      const T* x = xp + r * c;
      const T* res = rp + r * c;
      T* h = hp + r * c;
      for (int64_t j = 0; j < c; ++j) h[j] = x[j] + res[j];
      norm::RmsNormRow(h, w, yp + r * c, c, eps, rstd_out + r);
    }
  });
}

}  // namespace

// Slots: in[0] x (rows, C), in[1] residual (rows, C), in[2] weight (C), all contiguous; out[0] y
// (rows, C), out[1] h = x + residual (rows, C), out[2] rstd (rows); fattr[0] eps.
void AddRmsNorm(const KernelArgs& args) {
  if (args.in[0].dtype == DType::kF64) {
    Forward<double>(args);
  } else {
    Forward<float>(args);
  }
}

}  // namespace kiln::cpu::KILN_ISA_NS
