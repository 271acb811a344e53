// CUDA kernels of the Linear row (y = x W^T + b with the bias in the GEMM) and of BiasGrad (the
// bias gradient, column sums of the output gradient), the semantics of cpu/linear.cc and
// cpu/bias_grad.cc, bitwise:
//   - Linear: cuda/matmul.cuh's tiled GEMM with every fmaf chain starting from b_j (kInitBias),
//     then k = 0..K-1 in order: the CPU's chain (fill with the bias, GEMM in accumulate mode).
//   - BiasGrad: one thread per column; rows in chunks of 64 (cpu/reduce.h kRowChunk) summed in row
//     order, the chunk sums combined by cpu/reduce.h's pairwise tree (split at the middle chunk,
//     rounded up), evaluated with an explicit stack (no device recursion). No atomics; the bits
//     depend on N and M only. Parallelism is M threads (a two-stage version writing chunk partials
//     to a workspace is the V2 to benchmark against it).
#include "cuda/kernels.h"
#include "cuda/matmul_v2.cuh"

namespace kiln::KILN_CUDA_NS {
namespace {

constexpr int64_t kRowChunk = 64;  // cpu/reduce.h's: part of the numerics
constexpr int kColumnThreads = 256;
constexpr int kMaxDepth = 64;  // the tree over < 2^62 chunks is < 64 deep

__device__ __forceinline__ float ChunkSum(const float* __restrict__ g, int64_t rows, int64_t m,
                                          int64_t j, int64_t chunk) {
  const int64_t r0 = chunk * kRowChunk;
  const int64_t r1 = r0 + kRowChunk < rows ? r0 + kRowChunk : rows;
  float s = 0.0f;
  for (int64_t r = r0; r < r1; ++r) s = s + g[r * m + j];
  return s;
}

__global__ void BiasGradKernel(float* __restrict__ gb, const float* __restrict__ g, int64_t rows,
                               int64_t m) {
  const int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= m) return;
  const int64_t nchunks = (rows + kRowChunk - 1) / kRowChunk;
  if (nchunks == 0) {
    gb[j] = 0.0f;
    return;
  }
  // Post-order walk of TreeCombine(0, nchunks): state 0 = enter, 1 = left child returned,
  // 2 = right child returned; `ret` carries a finished subtree's sum to its parent.
  int64_t lo[kMaxDepth], hi[kMaxDepth];
  float left[kMaxDepth];
  int state[kMaxDepth];
  int sp = 1;
  lo[0] = 0;
  hi[0] = nchunks;
  state[0] = 0;
  float ret = 0.0f;
  while (sp > 0) {
    const int t = sp - 1;
    if (hi[t] - lo[t] == 1) {
      ret = ChunkSum(g, rows, m, j, lo[t]);
      --sp;
      continue;
    }
    const int64_t mid = lo[t] + (hi[t] - lo[t] + 1) / 2;
    if (state[t] == 0) {
      state[t] = 1;
      lo[sp] = lo[t], hi[sp] = mid, state[sp] = 0;
      ++sp;
    } else if (state[t] == 1) {
      left[t] = ret;
      state[t] = 2;
      lo[sp] = mid, hi[sp] = hi[t], state[sp] = 0;
      ++sp;
    } else {
      ret = left[t] + ret;
      --sp;
    }
  }
  gb[j] = ret;
}

}  // namespace

void Linear(float* y, const float* x, const float* weight, const float* bias, int64_t n, int64_t m,
            int64_t k, Stream stream) {
  LaunchSelectedGemm("Linear", y, x, weight, bias, n, m, k, false, true,
                     bias != nullptr ? kInitBias : kInitZero, stream);
}

void LinearBf16(float* y, const void* x, const void* weight, const float* bias, int64_t n,
                int64_t m, int64_t k, Stream stream) {
  LaunchGemm("LinearBf16", y, static_cast<const __nv_bfloat16*>(x),
             static_cast<const __nv_bfloat16*>(weight), bias, n, m, k, false, true,
             bias != nullptr ? kInitBias : kInitZero, stream);
}

void BiasGrad(float* grad_bias, const float* grad, int64_t n, int64_t m, Stream stream) {
  KILN_CHECK(n >= 0 && m >= 0) << "cuda BiasGrad: negative size " << n << "x" << m;
  if (m == 0) return;
  const int64_t blocks = (m + kColumnThreads - 1) / kColumnThreads;
  KILN_CHECK(blocks <= 0x7fffffff) << "cuda BiasGrad: M " << m << " too large";
  KILN_LAUNCH(BiasGradKernel, dim3(static_cast<unsigned>(blocks)), dim3(kColumnThreads), 0, stream,
              grad_bias, grad, n, m);
}

}  // namespace kiln::KILN_CUDA_NS
