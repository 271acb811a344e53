// Linear layer with the bias folded into the GEMM (row Linear): y = x W^T + b computed as one
// GEMM whose FMA chains start from the bias (cpu/gemm.h accumulate mode), so there is no separate
// broadcast add pass over y. Each output element is b_j then the FMA chain over k in increasing
// order: a fixed order, independent of threads, tiles and the batch.
#include <cstdint>

#include "base/thread_pool.h"
#include "cpu/bf16_operands.h"
#include "cpu/gemm.h"
#include "cpu/kernels.h"
#include "cpu/packed_weights.h"

namespace kiln::cpu::KILN_ISA_NS {
namespace {

constexpr int64_t kParallelMin = 1 << 14;  // scheduling only

template <typename T>
void Forward(const KernelArgs& args) {
  const int64_t n = args.in[0].sizes[0], k = args.in[0].sizes[1], m = args.in[1].sizes[0];
  const T* x = static_cast<const T*>(args.in[0].data);
  const T* w = static_cast<const T*>(args.in[1].data);
  const T* b = static_cast<const T*>(args.in[2].data);  // may be null
  T* y = static_cast<T*>(args.out[0].data);
  if (b != nullptr) {
    kiln::ParallelForWork(n, m, kParallelMin, [&](int64_t i_lo, int64_t i_hi) {
      for (int64_t i = i_lo; i < i_hi; ++i) {
        T* row = y + i * m;
        for (int64_t j = 0; j < m; ++j) row[j] = b[j];
      }
    });
  }
  if constexpr (sizeof(T) == 4) {
    // A parameter read without autograd: its packed panels are made once and reused (same bits).
    if (const PackedB* packed = AcquirePackedB(ReadWeightHint(args, 0), w, k, true, k, m)) {
      SgemmPackedB(n, x, k, false, *packed, y, m, b != nullptr);
      ReleasePackedB(packed);
      return;
    }
    cpu::KILN_ISA_NS::Sgemm(SgemmParams{n, m, k, x, k, false, w, k, true, y, m, b != nullptr});
  } else {
    cpu::KILN_ISA_NS::Dgemm(DgemmParams{n, m, k, x, k, false, w, k, true, y, m, b != nullptr});
  }
}

}  // namespace

// Slots: in[0] x (N, K), in[1] weight (M, K), in[2] bias (M) or null data, all contiguous;
// out[0] y (N, M) contiguous; iattr[0..2] the weight hint (ops/weight_hint.h).
void Linear(const KernelArgs& args) {
  if (args.in[0].dtype == DType::kF64) {
    Forward<double>(args);
  } else {
    const Bf16Operands f32(args);  // bf16 x / W widened (cpu/bf16_operands.h)
    Forward<float>(f32.args());
  }
}

}  // namespace kiln::cpu::KILN_ISA_NS
