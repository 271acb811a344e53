// Argmax kernel over the rows of a (rows, R) matrix: the first index of the maximum; a NaN counts
// as larger than any number (the first NaN wins), as in PyTorch and NumPy. Output i64.

#include <cstdint>

#include "base/thread_pool.h"
#include "cpu/kernels.h"

namespace kiln::cpu::KILN_ISA_NS {
namespace {

constexpr int64_t kParallelMin = 1 << 15;  // scheduling only

template <typename T>
void ArgmaxRows(const KernelArgs& args) {
  const KArray& x = args.in[0];
  const int64_t rows = x.sizes[0], n = x.sizes[1], rs = x.strides[0];
  const T* xp = static_cast<const T*>(x.data);
  int64_t* out = static_cast<int64_t*>(args.out[0].data);
  kiln::ParallelForWork(rows, n, kParallelMin, [&](int64_t r_lo, int64_t r_hi) {
    for (int64_t r = r_lo; r < r_hi; ++r) {
      const T* row = xp + r * rs;
      int64_t best = 0;
      T m = row[0];
      if (m == m) {
        for (int64_t j = 1; j < n; ++j) {
          const T v = row[j];
          if (v != v) {
            best = j;
            break;
          }
          if (v > m) {
            m = v;
            best = j;
          }
        }
      }
      out[r] = best;
    }
  });
}

}  // namespace

// Slots: in[0] x (rows, R >= 1) with unit inner stride; out[0] i64 (rows).
void Argmax(const KernelArgs& args) {
  if (args.in[0].dtype == DType::kF64) {
    ArgmaxRows<double>(args);
  } else {
    ArgmaxRows<float>(args);
  }
}

}  // namespace kiln::cpu::KILN_ISA_NS
