// The tiled shared-memory GEMM shared by cuda/matmul.cu, cuda/linear.cu and
// cuda/linear_cross_entropy.cu: c (M, N) = a (M, K) b (K, N), either operand transposed in memory.
// A block computes a 64x64 tile of c with 256 threads, each holding a 4x4 patch in registers; K
// advances in 16-wide slabs staged through shared memory. Every c element is one fmaf chain over
// k = 0, 1, ..., K-1 in order starting from its initial value: 0 (kInitZero), c's current value
// (kInitAccumulate: the chain continues, as cpu/gemm.h's accumulate mode) or bias[n] (kInitBias:
// the CPU Linear's chain). So the result is bitwise the CPU GEMM's and a row's bits do not depend
// on M or N (batch invariance). Operands are f32 or bf16 (T; mixed precision): bf16 elements are
// widened exactly as they are staged, so a bf16 GEMM is bitwise the f32 GEMM of the widened values.
#pragma once

#include "cuda/portable.h"

namespace kiln::KILN_CUDA_NS {
namespace {

enum GemmInit : int { kInitZero = 0, kInitAccumulate = 1, kInitBias = 2 };

__device__ __forceinline__ float GemmLoad(float v) { return v; }
__device__ __forceinline__ float GemmLoad(__nv_bfloat16 v) { return __bfloat162float(v); }

constexpr int kTileM = 64, kTileN = 64, kTileK = 16;
constexpr int kGemmThreads = 256;  // 16 x 16, each a 4 x 4 patch

// a(m, k) = a[m * sam + k * sak]; b(k, n) = b[k * sbk + n * sbn]; c row-major (M, N). The init
// mode is a template parameter so the plain GEMM keeps its registers (64 on sm_90, not 80).
template <int kInit, typename T>
__global__ void __launch_bounds__(kGemmThreads)
    MatmulTiled(float* __restrict__ c, const T* __restrict__ a, const T* __restrict__ b,
                const float* __restrict__ bias, int64_t m, int64_t n, int64_t k, int64_t sam,
                int64_t sak, int64_t sbk, int64_t sbn) {
  KILN_SHARED(float, as, [kTileK][kTileM + 4]);
  KILN_SHARED(float, bs, [kTileK][kTileN + 4]);
  const int tid = threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * kTileM;
  const int64_t n0 = static_cast<int64_t>(blockIdx.x) * kTileN;
  float acc[4][4];
  for (int i = 0; i < 4; ++i) {
    const int64_t gm = m0 + ty + 16 * i;
    for (int j = 0; j < 4; ++j) {
      const int64_t gn = n0 + tx + 16 * j;
      float v = 0.0f;
      if (kInit == kInitAccumulate && gm < m && gn < n) v = c[gm * n + gn];
      if (kInit == kInitBias && gn < n) v = bias[gn];
      acc[i][j] = v;
    }
  }
  for (int64_t k0 = 0; k0 < k; k0 += kTileK) {
    const int kk_end = k - k0 < kTileK ? static_cast<int>(k - k0) : kTileK;
    // Each thread stages 4 elements of each slab; out-of-range ones are 0 and never used.
    for (int e = tid; e < kTileK * kTileM; e += kGemmThreads) {
      const int kk = e % kTileK, mm = e / kTileK;
      const int64_t gm = m0 + mm, gk = k0 + kk;
      as[kk][mm] = gm < m && gk < k ? GemmLoad(a[gm * sam + gk * sak]) : 0.0f;
    }
    for (int e = tid; e < kTileK * kTileN; e += kGemmThreads) {
      const int nn = e % kTileN, kk = e / kTileN;
      const int64_t gn = n0 + nn, gk = k0 + kk;
      bs[kk][nn] = gn < n && gk < k ? GemmLoad(b[gk * sbk + gn * sbn]) : 0.0f;
    }
    __syncthreads();
    for (int kk = 0; kk < kk_end; ++kk) {
      float av[4], bv[4];
      for (int i = 0; i < 4; ++i) av[i] = as[kk][ty + 16 * i];
      for (int j = 0; j < 4; ++j) bv[j] = bs[kk][tx + 16 * j];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    __syncthreads();  // the slab is read by all before the next one overwrites it
  }
  for (int i = 0; i < 4; ++i) {
    const int64_t gm = m0 + ty + 16 * i;
    if (gm >= m) continue;
    for (int j = 0; j < 4; ++j) {
      const int64_t gn = n0 + tx + 16 * j;
      if (gn < n) c[gm * n + gn] = acc[i][j];
    }
  }
}

// c (M, N) = init + op(a) op(b) (see GemmInit); trans_a: a is stored (K, M); trans_b: b is stored
// (N, K). `what` names the caller in errors. T is float or __nv_bfloat16 (no accumulate mode).
template <typename T>
inline void LaunchGemm(const char* what, float* c, const T* a, const T* b,
                       const float* bias, int64_t m, int64_t n, int64_t k, bool trans_a,
                       bool trans_b, GemmInit init, Stream stream) {
  KILN_CHECK(m >= 0 && n >= 0 && k >= 0)
      << "cuda " << what << ": negative size " << m << "x" << n << "x" << k;
  if (m == 0 || n == 0) return;
  const int64_t gx = (n + kTileN - 1) / kTileN, gy = (m + kTileM - 1) / kTileM;
  KILN_CHECK(gx <= 0x7fffffff && gy <= 65535)
      << "cuda " << what << ": " << m << "x" << n << " needs more than 65535 row tiles";
  const int64_t sam = trans_a ? 1 : k, sak = trans_a ? m : 1;
  const int64_t sbk = trans_b ? 1 : n, sbn = trans_b ? k : 1;
  const dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(gy));
  // A named pointer per instantiation: KILN_LAUNCH's argument list cannot hold the template's
  // comma.
  switch (init) {
    case kInitZero: {
      const auto gemm_zero = &MatmulTiled<kInitZero, T>;
      KILN_LAUNCH(gemm_zero, grid, dim3(kGemmThreads), 0, stream, c, a, b, bias, m, n, k, sam, sak,
                  sbk, sbn);
      break;
    }
    case kInitAccumulate:
      if constexpr (sizeof(T) == 4) {
        const auto gemm_accumulate = &MatmulTiled<kInitAccumulate, T>;
        KILN_LAUNCH(gemm_accumulate, grid, dim3(kGemmThreads), 0, stream, c, a, b, bias, m, n, k,
                    sam, sak, sbk, sbn);
      } else {
        KILN_CHECK(false) << "cuda " << what << ": no accumulating GEMM for bf16 operands";
      }
      break;
    case kInitBias: {
      const auto gemm_bias = &MatmulTiled<kInitBias, T>;
      KILN_LAUNCH(gemm_bias, grid, dim3(kGemmThreads), 0, stream, c, a, b, bias, m, n, k, sam, sak,
                  sbk, sbn);
      break;
    }
  }
}

}  // namespace
}  // namespace kiln::KILN_CUDA_NS
