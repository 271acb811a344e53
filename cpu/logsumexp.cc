// Logsumexp kernel over the rows of a (rows, R) matrix: m + log(sum exp(x - m)) with m the row
// max; the sum runs in the fixed order of cpu/reduce.h and exp / log are kmath's, so the bits are
// the same on every ISA path and thread count. An all -inf row gives -inf; a +inf gives +inf.

#include <cstdint>

#include "base/kmath.h"
#include "base/thread_pool.h"
#include "cpu/kernels.h"
#include "cpu/reduce.h"

namespace kiln::cpu::KILN_ISA_NS {
namespace {

constexpr int64_t kParallelMin = 1 << 12;  // scheduling only

template <typename T>
void LogsumexpRows(const KernelArgs& args) {
  const KArray& x = args.in[0];
  const int64_t rows = x.sizes[0], n = x.sizes[1], rs = x.strides[0];
  const T* xp = static_cast<const T*>(x.data);
  T* out = static_cast<T*>(args.out[0].data);
  kiln::ParallelForWork(rows, n, kParallelMin, [&](int64_t r_lo, int64_t r_hi) {
    for (int64_t r = r_lo; r < r_hi; ++r) {
      const T* row = xp + r * rs;
      const T m = reduce::RowMax(row, n);
      // -inf (all -inf or empty), +inf and NaN rows: x - m would be NaN, the answer is m itself.
      if (m - m != T(0)) {
        out[r] = m;
        continue;
      }
      const T s = reduce::RowSum<T>(n, [row, m](int64_t j) { return kmath::Exp(row[j] - m); });
      out[r] = m + kmath::Log(s);
    }
  });
}

}  // namespace

// Slots: in[0] x (rows, R) with unit inner stride; out[0] (rows).
void Logsumexp(const KernelArgs& args) {
  if (args.in[0].dtype == DType::kF64) {
    LogsumexpRows<double>(args);
  } else {
    LogsumexpRows<float>(args);
  }
}

}  // namespace kiln::cpu::KILN_ISA_NS
