// Sum and Mean kernels: each row of a (rows, R) matrix reduced in the fixed order of cpu/reduce.h.
// Threads split rows; a few very long rows (a full reduction of a big tensor) split into kBlock
// blocks instead, whose partials are combined by the same tree, so both paths give the same bits.

#include <cstdint>

#include "base/thread_pool.h"
#include "cpu/kernels.h"
#include "cpu/reduce.h"

namespace kiln::cpu::KILN_ISA_NS {
namespace {

// Below this many elements a parallel region costs more than it saves (scheduling only).
constexpr int64_t kParallelMin = 1 << 15;

// in[0] x (rows, R), unit inner stride; out[0] (rows) contiguous; out = sum / divisor.
template <typename T>
void SumRows(const KernelArgs& args, T divisor) {
  const KArray& x = args.in[0];
  const int64_t rows = x.sizes[0], n = x.sizes[1], rs = x.strides[0];
  const T* xp = static_cast<const T*>(x.data);
  T* out = static_cast<T*>(args.out[0].data);
  const int64_t nb = reduce::NumBlocks(n);
  if (rows < 4 && nb >= 8 && rows * n >= kParallelMin) {
    T* part = reduce::Alloc<T>(nb);
    for (int64_t r = 0; r < rows; ++r) {
      const T* row = xp + r * rs;
      auto f = [row](int64_t j) { return row[j]; };
      kiln::ParallelFor(nb, 1, [&](int64_t b_lo, int64_t b_hi) {
        for (int64_t b = b_lo; b < b_hi; ++b) {
          const int64_t s = b * reduce::kBlock;
          part[b] = reduce::BlockSum<T>(s, n - s < reduce::kBlock ? n - s : reduce::kBlock, f);
        }
      });
      out[r] = reduce::TreeCombine(part, 0, nb) / divisor;
    }
    reduce::Free(part);
    return;
  }
  kiln::ParallelForWork(rows, n, kParallelMin, [&](int64_t r_lo, int64_t r_hi) {
    for (int64_t r = r_lo; r < r_hi; ++r) {
      const T* row = xp + r * rs;
      out[r] = reduce::RowSum<T>(n, [row](int64_t j) { return row[j]; }) / divisor;
    }
  });
}

template <typename T>
void Dispatch(const KernelArgs& args, double divisor) {
  SumRows<T>(args, static_cast<T>(divisor));
}

}  // namespace

// Slots: in[0] x (rows, R) with unit inner stride; out[0] (rows).
void Sum(const KernelArgs& args) {
  if (args.in[0].dtype == DType::kF64) {
    Dispatch<double>(args, 1.0);
  } else {
    Dispatch<float>(args, 1.0);
  }
}

// Slots as Sum; fattr[0] the count to divide by (the reduced element count R).
void Mean(const KernelArgs& args) {
  if (args.in[0].dtype == DType::kF64) {
    Dispatch<double>(args, args.fattr[0]);
  } else {
    Dispatch<float>(args, args.fattr[0]);
  }
}

}  // namespace kiln::cpu::KILN_ISA_NS
