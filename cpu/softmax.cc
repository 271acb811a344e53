// Softmax and LogSoftmax kernels over the rows of a (rows, R) matrix, max-subtracted:
//   softmax_j = e_j / s,  log_softmax_j = (x_j - m) - log(s),  e_j = exp(x_j - m), s = sum_j e_j,
// with m the row max, s summed in the fixed order of cpu/reduce.h and kmath's exp / log, so the
// bits do not depend on the ISA path or the thread count. A row of all -inf gives NaN (as PyTorch).

#include <cstdint>

#include "base/kmath.h"
#include "base/thread_pool.h"
#include "cpu/kernels.h"
#include "cpu/reduce.h"

namespace kiln::cpu::KILN_ISA_NS {
namespace {

constexpr int64_t kParallelMin = 1 << 12;  // scheduling only

template <typename T, bool kLog>
void SoftmaxRows(const KernelArgs& args) {
  const KArray& x = args.in[0];
  const int64_t rows = x.sizes[0], n = x.sizes[1], rs = x.strides[0];
  const T* xp = static_cast<const T*>(x.data);
  T* yp = static_cast<T*>(args.out[0].data);
  kiln::ParallelForWork(rows, n, kParallelMin, [&](int64_t r_lo, int64_t r_hi) {
    for (int64_t r = r_lo; r < r_hi; ++r) {
      const T* row = xp + r * rs;
      T* y = yp + r * n;
      const T m = reduce::RowMax(row, n);
      if constexpr (kLog) {
        const T s = reduce::RowSum<T>(n, [row, m](int64_t j) { return kmath::Exp(row[j] - m); });
        const T lse = kmath::Log(s);
        for (int64_t j = 0; j < n; ++j) y[j] = (row[j] - m) - lse;
      } else {
        for (int64_t j = 0; j < n; ++j) y[j] = kmath::Exp(row[j] - m);
        const T s = reduce::RowSum<T>(n, [y](int64_t j) { return y[j]; });
        for (int64_t j = 0; j < n; ++j) y[j] = y[j] / s;
      }
    }
  });
}

}  // namespace

// Slots: in[0] x (rows, R) with unit inner stride; out[0] y (rows, R) contiguous.
void Softmax(const KernelArgs& args) {
  if (args.in[0].dtype == DType::kF64) {
    SoftmaxRows<double, false>(args);
  } else {
    SoftmaxRows<float, false>(args);
  }
}

// Slots as Softmax.
void LogSoftmax(const KernelArgs& args) {
  if (args.in[0].dtype == DType::kF64) {
    SoftmaxRows<double, true>(args);
  } else {
    SoftmaxRows<float, true>(args);
  }
}

}  // namespace kiln::cpu::KILN_ISA_NS
