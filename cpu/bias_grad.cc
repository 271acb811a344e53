// The gradient of a broadcast bias (row BiasGrad): gb_j = sum_i g_ij over the rows of a (N, M)
// gradient, read in place (no transposed copy). Rows are cut in fixed chunks of
// reduce::kRowChunk, summed in row order per chunk, and the chunk partials combined by the fixed
// pairwise tree of cpu/reduce.h (as the LayerNorm weight gradient), so no bit depends on the
// thread count or the ISA path.
#include <cstdint>

#include "base/thread_pool.h"
#include "cpu/kernels.h"
#include "cpu/reduce.h"

namespace kiln::cpu::KILN_ISA_NS {
namespace {

constexpr int64_t kParallelMin = 1 << 12;  // scheduling only

template <typename T>
void Run(const KernelArgs& args) {
  const int64_t rows = args.in[0].sizes[0], m = args.in[0].sizes[1];
  const T* g = static_cast<const T*>(args.in[0].data);
  T* gb = static_cast<T*>(args.out[0].data);
  const int64_t nchunks = (rows + reduce::kRowChunk - 1) / reduce::kRowChunk;
  if (nchunks == 0) {
    for (int64_t j = 0; j < m; ++j) gb[j] = T(0);
    return;
  }
  T* part = reduce::Alloc<T>(nchunks * m);
  kiln::ParallelForWork(nchunks, reduce::kRowChunk * m, kParallelMin, [&](int64_t k_lo, int64_t k_hi) {
    for (int64_t k = k_lo; k < k_hi; ++k) {
      const int64_t r0 = k * reduce::kRowChunk;
      const int64_t r1 = r0 + reduce::kRowChunk < rows ? r0 + reduce::kRowChunk : rows;
      T* p = part + k * m;
      for (int64_t j = 0; j < m; ++j) p[j] = T(0);
      for (int64_t r = r0; r < r1; ++r) {
        const T* row = g + r * m;
        for (int64_t j = 0; j < m; ++j) p[j] = p[j] + row[j];
      }
    }
  });
  kiln::ParallelForWork(m, nchunks, kParallelMin, [&](int64_t j_lo, int64_t j_hi) {
    for (int64_t j = j_lo; j < j_hi; ++j) gb[j] = reduce::StridedTreeCombine(part + j, m, 0, nchunks);
  });
  reduce::Free(part);
}

}  // namespace

// Slots: in[0] grad (N, M) contiguous; out[0] grad_bias (M).
void BiasGrad(const KernelArgs& args) {
  if (args.in[0].dtype == DType::kF64) {
    Run<double>(args);
  } else {
    Run<float>(args);
  }
}

}  // namespace kiln::cpu::KILN_ISA_NS
