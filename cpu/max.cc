// Max and MaxBackward kernels over the rows of a (rows, R) matrix. A max is exact in any order;
// the gradient is split evenly among the elements equal to the max (ties share it), and a row
// whose max is NaN gets no gradient (no element compares equal to NaN).

#include <cstdint>

#include "base/thread_pool.h"
#include "cpu/kernels.h"
#include "cpu/reduce.h"

namespace kiln::cpu::KILN_ISA_NS {
namespace {

constexpr int64_t kParallelMin = 1 << 15;  // scheduling only

template <typename T>
void MaxRows(const KernelArgs& args) {
  const KArray& x = args.in[0];
  const int64_t rows = x.sizes[0], n = x.sizes[1], rs = x.strides[0];
  const T* xp = static_cast<const T*>(x.data);
  T* out = static_cast<T*>(args.out[0].data);
  kiln::ParallelForWork(rows, n, kParallelMin, [&](int64_t r_lo, int64_t r_hi) {
    for (int64_t r = r_lo; r < r_hi; ++r) out[r] = reduce::RowMax(xp + r * rs, n);
  });
}

template <typename T>
void MaxBackwardRows(const KernelArgs& args) {
  const KArray& x = args.in[0];
  const int64_t rows = x.sizes[0], n = x.sizes[1], rs = x.strides[0];
  const T* xp = static_cast<const T*>(x.data);
  const T* mx = static_cast<const T*>(args.in[1].data);
  const T* g = static_cast<const T*>(args.in[2].data);
  T* gx = static_cast<T*>(args.out[0].data);
  kiln::ParallelForWork(rows, n, kParallelMin, [&](int64_t r_lo, int64_t r_hi) {
    for (int64_t r = r_lo; r < r_hi; ++r) {
      const T* row = xp + r * rs;
      T* grow = gx + r * n;
      const T m = mx[r];
      int64_t ties = 0;
      for (int64_t j = 0; j < n; ++j) ties += row[j] == m ? 1 : 0;
      const T share = ties > 0 ? g[r] / static_cast<T>(ties) : T(0);
      for (int64_t j = 0; j < n; ++j) grow[j] = row[j] == m ? share : T(0);
    }
  });
}

}  // namespace

// Slots: in[0] x (rows, R) with unit inner stride; out[0] (rows). -inf for R == 0 is never asked
// for (the op rejects empty reductions); NaN if a row holds a NaN.
void Max(const KernelArgs& args) {
  if (args.in[0].dtype == DType::kF64) {
    MaxRows<double>(args);
  } else {
    MaxRows<float>(args);
  }
}

// Slots: in[0] x (rows, R) unit inner stride; in[1] max (rows); in[2] grad (rows), both
// contiguous; out[0] grad_x (rows, R) contiguous.
void MaxBackward(const KernelArgs& args) {
  if (args.in[0].dtype == DType::kF64) {
    MaxBackwardRows<double>(args);
  } else {
    MaxBackwardRows<float>(args);
  }
}

}  // namespace kiln::cpu::KILN_ISA_NS
