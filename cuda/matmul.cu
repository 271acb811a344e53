// CUDA kernel of the Matmul row: the tiled shared-memory GEMM of cuda/matmul.cuh (64x64 tiles,
// 4x4 outputs per thread, 16-wide K slabs), c (M, N) = a (M, K) b (K, N), either operand
// transposed in memory. Exactness: every c element is a single fmaf chain over k = 0, 1, ..., K-1
// starting from 0, the same chain as the CPU GEMM (cpu/gemm.h), so the result is bitwise the CPU's
// and a row's bits do not depend on M or N (batch invariance). The cuBLAS path (bench/cuda_bench
// measures it) is not batch invariant.
#include "cuda/kernels.h"
#include "cuda/matmul_v2.cuh"

namespace kiln::KILN_CUDA_NS {

void Matmul(float* c, const float* a, const float* b, int64_t m, int64_t n, int64_t k, bool trans_a,
            bool trans_b, Stream stream) {
  LaunchSelectedGemm("Matmul", c, a, b, nullptr, m, n, k, trans_a, trans_b, kInitZero, stream);
}

void MatmulBf16(float* c, const void* a, const void* b, int64_t m, int64_t n, int64_t k,
                bool trans_a, bool trans_b, Stream stream) {
  LaunchGemm("MatmulBf16", c, static_cast<const __nv_bfloat16*>(a),
             static_cast<const __nv_bfloat16*>(b), nullptr, m, n, k, trans_a, trans_b, kInitZero,
             stream);
}

}  // namespace kiln::KILN_CUDA_NS
