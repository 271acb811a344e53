// The GEMM's V2 (f32): a register-blocked 128x128 tile per block of 256 threads, each thread an
// 8x8 patch of c in registers; K advances in 8-wide slabs staged through double-buffered shared
// memory (the next slab's global loads are in flight while the current one is multiplied, one
// barrier per slab), with 16-byte global loads where the operand's contiguous dimension allows and
// 16-byte shared-memory reads in the inner loop.
//
// Exactness: V1's per-element arithmetic (cuda/matmul.cuh). Every c element is one fmaf chain over
// k = 0, 1, ..., K-1 in order, starting from its initial value (GemmInit: 0, c's current value, or
// bias[n]); slab edges past K are never fed to the chain. So V2 is bitwise V1, bitwise the CPU GEMM
// (cpu/gemm.h), and a row's bits do not depend on M or N (batch invariance): tested through the
// interpreter in tests/cuda/matmul_v2_kernel_test.cc.
//
// A thread's patch is split in four 4x4 quadrants (rows ty*4.. and 64+ty*4.., columns tx*4.. and
// 64+tx*4..), so that the 16-byte shared reads of a quarter-warp are consecutive (no bank conflict)
// and an operand stored transposed is written to shared memory conflict-free (rows padded to 132).
//
// LaunchSelectedGemm runs V1 or V2 by the process-wide choice of cuda/versions.h (op "matmul"); it
// is what cuda/matmul.cu, cuda/linear.cu and cuda/linear_cross_entropy.cu call.
#pragma once

#include "cuda/matmul.cuh"
#include "cuda/portable.h"
#include "cuda/versions.h"

namespace kiln::KILN_CUDA_NS {
namespace {

constexpr int kV2TileM = 128, kV2TileN = 128, kV2TileK = 8;
constexpr int kV2Threads = 256;             // 16 x 16 threads, each 8 x 8 outputs
constexpr int kV2Ld4 = (kV2TileM + 4) / 4;  // a slab row in float4s: 128 floats + 4 of padding

__device__ __forceinline__ bool GemmAligned16(const void* p) {
  return (reinterpret_cast<uintptr_t>(p) & 15) == 0;
}

// p[0..3] of a contiguous line, the elements at index >= valid read as 0 (valid <= 0: none is
// read); one 16-byte load when `vec` (p is then 16-byte aligned) and all four are valid.
__device__ __forceinline__ float4 GemmLoadQuad(const float* p, int64_t valid, bool vec) {
  if (vec && valid >= 4) return *reinterpret_cast<const float4*>(p);
  float4 r = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
  if (valid > 0) r.x = p[0];
  if (valid > 1) r.y = p[1];
  if (valid > 2) r.z = p[2];
  if (valid > 3) r.w = p[3];
  return r;
}

// One operand's part of a slab: the 128 x 8 block at (row r0, k k0) of an operand x(r, k) that is
// stored either k-contiguous (x[r * k + kk], `k_major` false) or r-contiguous (x[kk * rows + r]).
// Each of the 256 threads loads four consecutive elements along the contiguous dimension.
struct GemmV2Stager {
  const float* x;
  int64_t rows, k;
  bool r_contiguous, vec;

  __device__ __forceinline__ float4 Load(int tid, int64_t r0, int64_t k0) const {
    if (!r_contiguous) {  // x[r * k + kk]: thread -> row tid / 2, k quad (tid % 2) * 4
      const int64_t r = r0 + tid / 2, kk = k0 + (tid % 2) * 4;
      return GemmLoadQuad(x + r * k + kk, r < rows ? k - kk : 0, vec);
    }
    const int64_t kk = k0 + tid / 32, r = r0 + (tid % 32) * 4;  // x[kk * rows + r]
    return GemmLoadQuad(x + kk * rows + r, kk < k ? rows - r : 0, vec);
  }
  // Writes what Load returned into the slab s[kk][r] (float4 rows of kV2Ld4).
  __device__ __forceinline__ void Store(float4* s, int tid, float4 v) const {
    if (!r_contiguous) {
      float* f = reinterpret_cast<float*>(s);
      const int r = tid / 2, kk = (tid % 2) * 4;
      f[(kk + 0) * kV2Ld4 * 4 + r] = v.x;
      f[(kk + 1) * kV2Ld4 * 4 + r] = v.y;
      f[(kk + 2) * kV2Ld4 * 4 + r] = v.z;
      f[(kk + 3) * kV2Ld4 * 4 + r] = v.w;
    } else {
      s[(tid / 32) * kV2Ld4 + tid % 32] = v;
    }
  }
};

// acc[i][j] += a[i] b[j] for one k of the slab: a = rows ty*4..+3 and 64+ty*4..+3, b likewise.
__device__ __forceinline__ void GemmV2Step(float (&acc)[8][8], const float4* arow,
                                           const float4* brow, int tx, int ty) {
  const float4 a0 = arow[ty], a1 = arow[16 + ty], b0 = brow[tx], b1 = brow[16 + tx];
  const float av[8] = {a0.x, a0.y, a0.z, a0.w, a1.x, a1.y, a1.z, a1.w};
  const float bv[8] = {b0.x, b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w};
  for (int i = 0; i < 8; ++i)
    for (int j = 0; j < 8; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
}

// c (M, N) = init + a b with a(m, k) and b(k, n) staged by their GemmV2Stagers.
template <int kInit>
__global__ void __launch_bounds__(kV2Threads, 2)
    MatmulTiledV2(float* __restrict__ c, const float* __restrict__ a, const float* __restrict__ b,
                  const float* __restrict__ bias, int64_t m, int64_t n, int64_t k, int trans_a,
                  int trans_b) {
  KILN_SHARED(float4, as, [2][kV2TileK][kV2Ld4]);
  KILN_SHARED(float4, bs, [2][kV2TileK][kV2Ld4]);
  const int tid = threadIdx.x;
  const int tx = tid % 16, ty = tid / 16;
  const int64_t m0 = static_cast<int64_t>(blockIdx.y) * kV2TileM;
  const int64_t n0 = static_cast<int64_t>(blockIdx.x) * kV2TileN;
  // a stored (M, K) is k-contiguous, (K, M) m-contiguous; b stored (K, N) n-contiguous, (N, K)
  // k-contiguous. 16-byte loads need the contiguous extent a multiple of 4 and an aligned base.
  const GemmV2Stager sa{a, m, k, trans_a != 0,
                        (trans_a ? m % 4 == 0 : k % 4 == 0) && GemmAligned16(a)};
  const GemmV2Stager sb{b, n, k, trans_b == 0,
                        (trans_b ? k % 4 == 0 : n % 4 == 0) && GemmAligned16(b)};
  const bool vec_c = n % 4 == 0 && GemmAligned16(c);
  float acc[8][8];
  for (int i = 0; i < 8; ++i) {
    const int64_t gm = m0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + i - 4);
    for (int j = 0; j < 8; ++j) {
      const int64_t gn = n0 + (j < 4 ? tx * 4 + j : 64 + tx * 4 + j - 4);
      float v = 0.0f;
      if (kInit == kInitAccumulate && gm < m && gn < n) v = c[gm * n + gn];
      if (kInit == kInitBias && gn < n) v = bias[gn];
      acc[i][j] = v;
    }
  }
  const int64_t slabs = (k + kV2TileK - 1) / kV2TileK;
  if (slabs > 0) {
    sa.Store(&as[0][0][0], tid, sa.Load(tid, m0, 0));
    sb.Store(&bs[0][0][0], tid, sb.Load(tid, n0, 0));
  }
  __syncthreads();
  for (int64_t s = 0; s < slabs; ++s) {
    const int cur = static_cast<int>(s & 1);
    const bool next = s + 1 < slabs;
    float4 ra = make_float4(0.0f, 0.0f, 0.0f, 0.0f), rb = ra;
    if (next) {  // the next slab's loads overlap this slab's arithmetic
      ra = sa.Load(tid, m0, (s + 1) * kV2TileK);
      rb = sb.Load(tid, n0, (s + 1) * kV2TileK);
    }
    const int64_t left = k - s * kV2TileK;
    if (left >= kV2TileK) {
      for (int kk = 0; kk < kV2TileK; ++kk) GemmV2Step(acc, as[cur][kk], bs[cur][kk], tx, ty);
    } else {  // the last, partial slab: only k < K enters the chains
      for (int kk = 0; kk < left; ++kk) GemmV2Step(acc, as[cur][kk], bs[cur][kk], tx, ty);
    }
    if (next) {  // the other buffer's readers finished before the previous barrier
      sa.Store(&as[cur ^ 1][0][0], tid, ra);
      sb.Store(&bs[cur ^ 1][0][0], tid, rb);
    }
    __syncthreads();
  }
  for (int i = 0; i < 8; ++i) {
    const int64_t gm = m0 + (i < 4 ? ty * 4 + i : 64 + ty * 4 + i - 4);
    if (gm >= m) continue;
    for (int h = 0; h < 2; ++h) {
      const int64_t gn = n0 + h * 64 + tx * 4;
      float* cr = c + gm * n + gn;
      if (vec_c && gn + 4 <= n) {
        *reinterpret_cast<float4*>(cr) =
            make_float4(acc[i][4 * h], acc[i][4 * h + 1], acc[i][4 * h + 2], acc[i][4 * h + 3]);
      } else {
        for (int j = 0; j < 4; ++j)
          if (gn + j < n) cr[j] = acc[i][4 * h + j];
      }
    }
  }
}

// V2's launcher, the arguments of LaunchGemm (cuda/matmul.cuh).
inline void LaunchGemmV2(const char* what, float* c, const float* a, const float* b,
                         const float* bias, int64_t m, int64_t n, int64_t k, bool trans_a,
                         bool trans_b, GemmInit init, Stream stream) {
  KILN_CHECK(m >= 0 && n >= 0 && k >= 0)
      << "cuda " << what << ": negative size " << m << "x" << n << "x" << k;
  if (m == 0 || n == 0) return;
  const int64_t gx = (n + kV2TileN - 1) / kV2TileN, gy = (m + kV2TileM - 1) / kV2TileM;
  KILN_CHECK(gx <= 0x7fffffff && gy <= 65535)
      << "cuda " << what << ": " << m << "x" << n << " needs more than 65535 row tiles";
  const dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(gy));
  const int ta = trans_a ? 1 : 0, tb = trans_b ? 1 : 0;
  switch (init) {
    case kInitZero:
      KILN_LAUNCH(MatmulTiledV2<kInitZero>, grid, dim3(kV2Threads), 0, stream, c, a, b, bias, m, n,
                  k, ta, tb);
      break;
    case kInitAccumulate:
      KILN_LAUNCH(MatmulTiledV2<kInitAccumulate>, grid, dim3(kV2Threads), 0, stream, c, a, b, bias,
                  m, n, k, ta, tb);
      break;
    case kInitBias:
      KILN_LAUNCH(MatmulTiledV2<kInitBias>, grid, dim3(kV2Threads), 0, stream, c, a, b, bias, m, n,
                  k, ta, tb);
      break;
  }
}

// The GEMM of the process-wide "matmul" version (cuda/versions.h): V1 (LaunchGemm) or V2.
inline void LaunchSelectedGemm(const char* what, float* c, const float* a, const float* b,
                               const float* bias, int64_t m, int64_t n, int64_t k, bool trans_a,
                               bool trans_b, GemmInit init, Stream stream) {
  if (cuda_versions::KernelVersion(cuda_versions::KernelOp::kMatmul) == 2) {
    LaunchGemmV2(what, c, a, b, bias, m, n, k, trans_a, trans_b, init, stream);
  } else {
    LaunchGemm(what, c, a, b, bias, m, n, k, trans_a, trans_b, init, stream);
  }
}

}  // namespace
}  // namespace kiln::KILN_CUDA_NS
