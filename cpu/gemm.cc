// kiln's CPU GEMM (BLIS design), built once per instruction-set path (cpu/CMakeLists.txt): B is
// packed into kc x nr panels and A into mc x kc blocks of mr-row micro-panels (the packing does
// the transposes), and a register-blocked micro-kernel runs one FMA chain per C element over k in
// order. Nothing here depends on the tiling, the thread count or the vector width for its bits
// (docs/gemm.md); those only change speed.
#include "cpu/gemm.h"

#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

#include "base/thread_pool.h"

namespace kiln::cpu::KILN_ISA_NS {
namespace {

// ---- Vector traits: the few operations the micro-kernel needs, per path and element type. ----
// Masked forms serve the right edge of N (and B read in place), so no C tile is ever copied.
#if defined(KILN_ISA_avx512)
struct F32 {
  using T = float;
  using V = __m512;
  using M = __mmask16;
  static constexpr int kW = 16;
  static V Zero() { return _mm512_setzero_ps(); }
  static V Load(const T* p) { return _mm512_loadu_ps(p); }
  static V LoadM(const T* p, M m) { return _mm512_maskz_loadu_ps(m, p); }
  static void Store(T* p, V v) { _mm512_storeu_ps(p, v); }
  static void StoreM(T* p, V v, M m) { _mm512_mask_storeu_ps(p, m, v); }
  static V Bcast(const T* p) { return _mm512_set1_ps(*p); }
  static V Fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static M Mask(int n) { return n >= kW ? M(0xFFFF) : n <= 0 ? M(0) : M((1u << n) - 1); }
};
struct F64 {
  using T = double;
  using V = __m512d;
  using M = __mmask8;
  static constexpr int kW = 8;
  static V Zero() { return _mm512_setzero_pd(); }
  static V Load(const T* p) { return _mm512_loadu_pd(p); }
  static V LoadM(const T* p, M m) { return _mm512_maskz_loadu_pd(m, p); }
  static void Store(T* p, V v) { _mm512_storeu_pd(p, v); }
  static void StoreM(T* p, V v, M m) { _mm512_mask_storeu_pd(p, m, v); }
  static V Bcast(const T* p) { return _mm512_set1_pd(*p); }
  static V Fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static M Mask(int n) { return n >= kW ? M(0xFF) : n <= 0 ? M(0) : M((1u << n) - 1); }
};
// 14 x 32 floats: 28 zmm accumulators + 2 for B + 1 broadcast of the 32 registers.
template <typename T>
struct Reg {
  static constexpr int kMR = 14, kNV = 2;
};
#elif defined(KILN_ISA_avx2)
struct F32 {
  using T = float;
  using V = __m256;
  using M = __m256i;
  static constexpr int kW = 8;
  static V Zero() { return _mm256_setzero_ps(); }
  static V Load(const T* p) { return _mm256_loadu_ps(p); }
  static V LoadM(const T* p, M m) { return _mm256_maskload_ps(p, m); }
  static void Store(T* p, V v) { _mm256_storeu_ps(p, v); }
  static void StoreM(T* p, V v, M m) { _mm256_maskstore_ps(p, m, v); }
  static V Bcast(const T* p) { return _mm256_broadcast_ss(p); }
  static V Fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static M Mask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
};
struct F64 {
  using T = double;
  using V = __m256d;
  using M = __m256i;
  static constexpr int kW = 4;
  static V Zero() { return _mm256_setzero_pd(); }
  static V Load(const T* p) { return _mm256_loadu_pd(p); }
  static V LoadM(const T* p, M m) { return _mm256_maskload_pd(p, m); }
  static void Store(T* p, V v) { _mm256_storeu_pd(p, v); }
  static void StoreM(T* p, V v, M m) { _mm256_maskstore_pd(p, m, v); }
  static V Bcast(const T* p) { return _mm256_broadcast_sd(p); }
  static V Fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static M Mask(int n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
  }
};
// 6 x 16 floats: 12 ymm accumulators + 2 for B + 1 broadcast of the 16 registers.
template <typename T>
struct Reg {
  static constexpr int kMR = 6, kNV = 2;
};
#else
// Scalar "vectors" of width 1. Without -mfma the fma is a libm call (still exactly rounded), so
// this path is for correctness on old machines, not speed.
template <typename TT>
struct Scalar {
  using T = TT;
  using V = TT;
  using M = bool;
  static constexpr int kW = 1;
  static V Zero() { return T(0); }
  static V Load(const T* p) { return *p; }
  static V LoadM(const T* p, M m) { return m ? *p : T(0); }
  static void Store(T* p, V v) { *p = v; }
  static void StoreM(T* p, V v, M m) {
    if (m) *p = v;
  }
  static V Bcast(const T* p) { return *p; }
  static V Fma(V a, V b, V c) {
    if constexpr (sizeof(T) == 4) {
      return __builtin_fmaf(a, b, c);
    } else {
      return __builtin_fma(a, b, c);
    }
  }
  static M Mask(int n) { return n > 0; }
};
using F32 = Scalar<float>;
using F64 = Scalar<double>;
template <typename T>
struct Reg {
  static constexpr int kMR = 4, kNV = 4;
};
#endif

// ---- Micro-kernel. ----
// C[0..R)[0..ncols) (row stride ldc) gets, per element, acc = load_c ? C : 0 followed by
// acc = fma(a[r], b[j], acc) for each of the kc steps, in order: exactly the chain of the contract.
// a: packed A micro-panel, element (r, k) at a[k * a_step + r]. b: the NV vectors of one k step
// come in runs of VPP contiguous vectors, run u at b + u * b_run (several pre-packed panels side
// by side; VPP >= NV means one contiguous run: a packed panel or B read in place); the next k step
// is b_step further. Columns of C are contiguous across runs.
// c_next (may be null): the C tile of the next call, R rows of NV vectors at the same ldc; its
// lines are prefetched while this tile computes, so the next call's C loads do not miss.
template <typename Tr, int R, int NV, bool kFull, int VPP = NV>
void Kernel(int64_t kc, const typename Tr::T* a, int64_t a_step, const typename Tr::T* b,
            int64_t b_step, typename Tr::T* c, int64_t ldc, int ncols, bool load_c,
            int64_t b_run = 0, const typename Tr::T* c_next = nullptr) {
  using V = typename Tr::V;
  constexpr int kW = Tr::kW;
  if (c_next != nullptr) {
    constexpr int kLines = (NV * kW * int(sizeof(typename Tr::T)) + 63) / 64;
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
      for (int l = 0; l < kLines; ++l) __builtin_prefetch(c_next + r * ldc + l * (64 / sizeof(typename Tr::T)), 1, 3);
    }
  }
  typename Tr::M mask[NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) mask[v] = Tr::Mask(ncols - v * kW);
  V acc[R][NV];
  if (load_c) {
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) {
        acc[r][v] =
            kFull ? Tr::Load(c + r * ldc + v * kW) : Tr::LoadM(c + r * ldc + v * kW, mask[v]);
      }
    }
  } else {
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[r][v] = Tr::Zero();
    }
  }
  for (int64_t kk = 0; kk < kc; ++kk) {
    V bv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      const typename Tr::T* bp = b + (v / VPP) * b_run + (v % VPP) * kW;
      bv[v] = kFull ? Tr::Load(bp) : Tr::LoadM(bp, mask[v]);
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const V av = Tr::Bcast(a + r);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[r][v] = Tr::Fma(av, bv[v], acc[r][v]);
    }
    a += a_step;
    b += b_step;
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      if (kFull) {
        Tr::Store(c + r * ldc + v * kW, acc[r][v]);
      } else {
        Tr::StoreM(c + r * ldc + v * kW, acc[r][v], mask[v]);
      }
    }
  }
}

// Picks the kernel instance with exactly `rows` rows, so an edge tile in M does no wasted work
// (and decoding with M = 1 runs a 1-row kernel).
template <typename Tr, int NV, bool kFull, int R>
void KernelRows(int rows, int64_t kc, const typename Tr::T* a, int64_t a_step,
                const typename Tr::T* b, int64_t b_step, typename Tr::T* c, int64_t ldc, int ncols,
                bool load_c, const typename Tr::T* c_next = nullptr) {
  if constexpr (R > 1) {
    if (rows < R) {
      return KernelRows<Tr, NV, kFull, R - 1>(rows, kc, a, a_step, b, b_step, c, ldc, ncols,
                                              load_c, c_next);
    }
  }
  Kernel<Tr, R, NV, kFull>(kc, a, a_step, b, b_step, c, ldc, ncols, load_c, 0, c_next);
}

inline int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t Min(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t Max(int64_t a, int64_t b) { return a > b ? a : b; }
inline int64_t Clamp(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

// ---- Packing. ----
// A block rows [i0, i0 + mc) x k [p0, p0 + kc) into micro-panels of MR rows: element (r, k) of
// micro-panel q at dst[q * MR * kc + k * MR + r]. Rows past mc are not written (never read).
#if defined(KILN_ISA_avx512) || defined(KILN_ISA_avx2)
// Transposing copy of a g x kc block of floats (g <= 8 rows, row x at src[x], each contiguous in
// k) to dst[kk * dst_step + x]: 8 x 8 in-register transposes (AVX), a scalar tail for kc % 8.
// Rows past g are read from the last row and never stored. Both AVX paths use it (AVX-512 builds
// have AVX2 too); it only moves values, so it cannot change a bit.
void TransposeRows8(const float* const src[8], int g, int64_t kc, float* dst, int64_t dst_step) {
  const __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(g), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  int64_t kk = 0;
  for (; kk + 8 <= kc; kk += 8) {
    __m256 r0 = _mm256_loadu_ps(src[0] + kk), r1 = _mm256_loadu_ps(src[1] + kk);
    __m256 r2 = _mm256_loadu_ps(src[2] + kk), r3 = _mm256_loadu_ps(src[3] + kk);
    __m256 r4 = _mm256_loadu_ps(src[4] + kk), r5 = _mm256_loadu_ps(src[5] + kk);
    __m256 r6 = _mm256_loadu_ps(src[6] + kk), r7 = _mm256_loadu_ps(src[7] + kk);
    const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    const __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    const __m256 out[8] = {
        _mm256_permute2f128_ps(u0, u4, 0x20), _mm256_permute2f128_ps(u1, u5, 0x20),
        _mm256_permute2f128_ps(u2, u6, 0x20), _mm256_permute2f128_ps(u3, u7, 0x20),
        _mm256_permute2f128_ps(u0, u4, 0x31), _mm256_permute2f128_ps(u1, u5, 0x31),
        _mm256_permute2f128_ps(u2, u6, 0x31), _mm256_permute2f128_ps(u3, u7, 0x31)};
    if (g == 8) {
#pragma GCC unroll 8
      for (int x = 0; x < 8; ++x) _mm256_storeu_ps(dst + (kk + x) * dst_step, out[x]);
    } else {
#pragma GCC unroll 8
      for (int x = 0; x < 8; ++x) _mm256_maskstore_ps(dst + (kk + x) * dst_step, mask, out[x]);
    }
  }
  for (; kk < kc; ++kk) {
    for (int x = 0; x < g; ++x) dst[kk * dst_step + x] = src[x][kk];
  }
}
#endif

// Copies rows [0, g) (g <= 8, row x at src + x * ld, contiguous in k) of k [0, kc) to
// dst[kk * dst_step + x].
template <typename T>
void TransposeRows(const T* src, int64_t ld, int g, int64_t kc, T* dst, int64_t dst_step) {
#if defined(KILN_ISA_avx512) || defined(KILN_ISA_avx2)
  if constexpr (sizeof(T) == 4) {
    const float* rows[8];
    for (int x = 0; x < 8; ++x) rows[x] = src + (x < g ? x : g - 1) * ld;
    return TransposeRows8(rows, g, kc, dst, dst_step);
  }
#endif
  for (int x = 0; x < g; ++x) {
    const T* s = src + x * ld;
    for (int64_t kk = 0; kk < kc; ++kk) dst[kk * dst_step + x] = s[kk];
  }
}

template <typename T, int MR>
void PackA(const T* a, int64_t lda, bool trans_a, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
           T* dst) {
  for (int64_t q = 0; q < mc; q += MR) {
    const int64_t rows = mc - q < MR ? mc - q : MR;
    T* d = dst + q * kc;
    if (trans_a) {
      const T* s = a + p0 * lda + i0 + q;
      for (int64_t kk = 0; kk < kc; ++kk) std::memcpy(d + kk * MR, s + kk * lda, rows * sizeof(T));
    } else {
      // Groups of up to 8 rows: a transpose of rows (contiguous in k) into k-major columns.
      for (int64_t r = 0; r < rows; r += 8) {
        TransposeRows<T>(a + (i0 + q + r) * lda + p0, lda, static_cast<int>(Min(8, rows - r)), kc,
                         d + r, MR);
      }
    }
  }
}

// One B panel: k [p0, p0 + kc) x columns [j0, j0 + cols) (cols <= NR): element (k, j) at
// dst[k * NR + j]. Columns past cols are not written (the kernel masks them).
template <typename T, int NR>
void PackBPanel(const T* b, int64_t ldb, bool trans_b, int64_t p0, int64_t kc, int64_t j0,
                int64_t cols, T* dst) {
  if (!trans_b) {
    const T* s = b + p0 * ldb + j0;
    for (int64_t kk = 0; kk < kc; ++kk) std::memcpy(dst + kk * NR, s + kk * ldb, cols * sizeof(T));
    return;
  }
  // B is stored n x k: 8 columns (rows of the stored B) at a time, transposed.
  for (int64_t j = 0; j < cols; j += 8) {
    TransposeRows<T>(b + (j0 + j) * ldb + p0, ldb, static_cast<int>(Min(8, cols - j)), kc,
                     dst + j, NR);
  }
}

// ---- Scratch memory: one 64-byte aligned buffer per calling thread, grown on demand and reused,
// so repeated calls do not pay for fresh pages. ----
struct Scratch {
  void* ptr = nullptr;
  size_t bytes = 0;
  ~Scratch() { Release(); }
  void Release() {
    if (ptr != nullptr) ::operator delete[](ptr, std::align_val_t(64));
    ptr = nullptr;
    bytes = 0;
  }
  void* Get(size_t want) {
    if (want > bytes) {
      Release();
      ptr = ::operator new[](want, std::align_val_t(64));
      bytes = want;
    }
    return ptr;
  }
};
thread_local Scratch tl_scratch;

// ---- Cache blocking, derived once from the cache sizes read at run time (docs/gemm.md). ----
// kc: one packed B micro-panel (kc x NR) is the size of L1d; the micro-kernel reuses it for every
//     MR-row tile of the A block, and the A micro-panel (MR x kc) streams from L2 beside it.
//     Clamped to [128, 512] and a multiple of 16.
// mc: the packed A block (mc x kc) fills a quarter of L2 (the rest holds the B micro-panels as
//     they stream through and C tiles), a multiple of MR.
// nc: the packed B block (kc x nc) fills half of the L3 share, L3 counted as at most 16 MiB
//     (virtual machines report a whole socket's L3, and the machine is shared); at most 4096
//     columns, a multiple of NR.
// On the 2-core Zen 5 VM (48 KiB L1d, 1 MiB L2) this gives 384 / 168 / 4096 for AVX-512 f32;
// the sweep in docs/gemm.md measured that against the alternatives.
template <typename T>
GemmBlocking ComputeBlocking() {
  constexpr int mr = Reg<T>::kMR, nr = Reg<T>::kNV * (sizeof(T) == 4 ? F32::kW : F64::kW);
  const CacheSizes& cs = GemmCacheSizes();
  const int64_t sz = sizeof(T);
  int64_t kc = Clamp(cs.l1d / (nr * sz) / 16 * 16, 128, 512);
  int64_t mc = cs.l2 / 4 / (kc * sz);
  int64_t nc = Min(cs.l3, int64_t{16} << 20) / 2 / (kc * sz);
  int64_t okc, omc, onc;
  if (GemmBlockingOverride(&okc, &omc, &onc)) {
    kc = okc;
    mc = omc;
    nc = onc;
  }
  mc = Clamp(mc / mr * mr, mr, 4096 / mr * mr);
  nc = Clamp(nc / nr * nr, nr, 4096 / nr * nr);
  return GemmBlocking{mr, nr, kc, mc, nc};
}

template <typename T>
const GemmBlocking& Blocking() {
  static const GemmBlocking blk = ComputeBlocking<T>();
  return blk;
}

// Threads only where the work pays for waking them (~2 MFLOP each): a fork/join costs a few
// microseconds on a quiet machine and far more when the cores are shared. With few rows the call
// is a stream over B, so each thread must also get >= 2 MiB of it (~25 us at L3 speed): below
// that a second thread cost more than it saved in the measurements (docs/gemm.md).
constexpr int64_t kSmallRows = 16;
int ThreadsFor(int64_t m, int64_t n, int64_t k, int64_t elem_bytes) {
  int64_t want = m * n * k / (1 << 20) + 1;
  if (m <= kSmallRows) want = Min(want, n * k * elem_bytes / (int64_t{2} << 20) + 1);
  const int max_threads = kiln::NumThreads();
  return static_cast<int>(want < max_threads ? want : max_threads);
}

// Splits nt threads into a tm x tn grid over (M micro-rows, N panels) minimizing the largest
// share; on ties prefers splitting M (A is then packed once and B shared).
void ChooseGrid(int nt, int64_t mtiles, int64_t ntiles, int* tm, int* tn) {
  int64_t best = -1;
  for (int a = nt; a >= 1; --a) {
    if (nt % a != 0) continue;
    const int64_t cost = CeilDiv(mtiles, a) * CeilDiv(ntiles, nt / a);
    if (best < 0 || cost < best) {
      best = cost;
      *tm = a;
      *tn = nt / a;
    }
  }
}

// Up to this many MR-row groups, B is read in place rather than packed (GemmSmallM).
constexpr int64_t kSmallMaxGroups = 2;

// Accumulator budget of the small-M kernels (the same registers the main tile uses).
constexpr int kAccRegs = Reg<float>::kMR * Reg<float>::kNV;

// Vectors per row for an R-row small-M kernel: as wide as the registers allow (up to 8), so each
// pass over B reads long runs of each row.
constexpr int SmallNV(int rows) {
  const int nv = kAccRegs / rows;
  return nv < 1 ? 1 : nv > 8 ? 8 : nv;
}

template <typename Tr, bool kFull, int R>
void SmallKernelRows(int rows, int64_t kc, const typename Tr::T* a, int64_t a_step,
                     const typename Tr::T* b, int64_t b_step, typename Tr::T* c, int64_t ldc,
                     int ncols, bool load_c) {
  if constexpr (R > 1) {
    if (rows < R) {
      return SmallKernelRows<Tr, kFull, R - 1>(rows, kc, a, a_step, b, b_step, c, ldc, ncols,
                                               load_c);
    }
  }
  Kernel<Tr, R, SmallNV(R), kFull>(kc, a, a_step, b, b_step, c, ldc, ncols, load_c);
}

// A as (r, k) at a[k * a_step + r] per group of `grows` <= MR rows (group g = rows
// [g * grows, ...) at a + g * a_group): a transposed A already is; otherwise each group is packed
// (whole k) into one micro-panel of the thread's scratch.
template <typename T, int MR>
const T* PackAGroups(int64_t m, int64_t k, const T* a, int64_t lda, bool trans_a, int64_t grows,
                     int64_t* a_step, int64_t* a_group) {
  if (trans_a) {
    *a_step = lda;
    *a_group = grows;
    return a;
  }
  const int64_t groups = CeilDiv(m, grows);
  T* packed = static_cast<T*>(tl_scratch.Get(groups * MR * k * sizeof(T) + 64));
  for (int64_t g = 0; g < groups; ++g) {
    PackA<T, MR>(a, lda, false, g * grows, Min(grows, m - g * grows), 0, k, packed + g * MR * k);
  }
  *a_step = MR;
  *a_group = MR * k;
  return packed;
}

// Rows per group when m rows are split into groups of at most MR: equal sizes (M = 8 on AVX2:
// 4 + 4, not 6 + 2), so no group runs a kernel with too few accumulators to hide FMA latency.
inline int64_t GroupRows(int64_t m, int64_t mr) { return CeilDiv(m, CeilDiv(m, mr)); }

// Few rows and B not transposed (decoding, small batches): B is read in place, one pass per
// column chunk, since each B element serves a few rows only and packing it would triple the memory
// traffic. Nothing is packed but A, so the whole K runs without blocking. With M <= MR one row
// group runs with the widest chunk the registers allow; with more rows the chunk is one register
// tile wide and stays in L1/L2 while each row group (equal groups of <= MR rows) walks it.
template <typename Tr, typename P>
void GemmSmallM(const P& p, int nt) {
  using T = typename Tr::T;
  constexpr int kMR = Reg<T>::kMR, kNV = Reg<T>::kNV;
  const int64_t m = p.m, n = p.n, k = p.k;
  const int64_t grows = GroupRows(m, kMR), groups = CeilDiv(m, grows);
  const bool one_group = groups == 1;
  const int64_t width = (one_group ? SmallNV(static_cast<int>(m)) : kNV) * Tr::kW;
  int64_t a_step, a_group;
  const T* a = PackAGroups<T, kMR>(m, k, p.a, p.lda, p.trans_a, grows, &a_step, &a_group);
  const int64_t chunks = CeilDiv(n, width);
  kiln::ParallelFor(chunks, CeilDiv(chunks, nt), [&](int64_t q_lo, int64_t q_hi) {
    for (int64_t q = q_lo; q < q_hi; ++q) {
      const int64_t j = q * width;
      const int ncols = static_cast<int>(Min(width, n - j));
      const bool full = ncols == width;
      for (int64_t g = 0; g < groups; ++g) {
        const int rows = static_cast<int>(Min(grows, m - g * grows));
        const T* ai = a + g * a_group;
        T* c = p.c + g * grows * p.ldc + j;
        if (one_group && full) {
          SmallKernelRows<Tr, true, kMR>(rows, k, ai, a_step, p.b + j, p.ldb, c, p.ldc, ncols,
                                         p.accumulate);
        } else if (one_group) {
          SmallKernelRows<Tr, false, kMR>(rows, k, ai, a_step, p.b + j, p.ldb, c, p.ldc, ncols,
                                          p.accumulate);
        } else if (full) {
          KernelRows<Tr, kNV, true, kMR>(rows, k, ai, a_step, p.b + j, p.ldb, c, p.ldc, ncols,
                                         p.accumulate);
        } else {
          KernelRows<Tr, kNV, false, kMR>(rows, k, ai, a_step, p.b + j, p.ldb, c, p.ldc, ncols,
                                          p.accumulate);
        }
      }
    }
  });
}

// ---- Decoding over pre-packed B (M <= kDecodeMaxM). ----
constexpr int64_t kDecodeMaxM = kSmallRows;

// Panels per kernel call for R rows: several pre-packed panels side by side, so an M = 1 call
// still has several independent FMA chains in flight (latency) and streams a few runs at once.
constexpr int DecodePanels(int rows) {
  const int p = kAccRegs / (rows * Reg<float>::kNV);
  return p < 1 ? 1 : p > 4 ? 4 : p;
}

template <typename Tr, int R>
void DecodeKernelRows(int rows, int64_t k, const typename Tr::T* a, int64_t a_step,
                      const typename Tr::T* b, int64_t b_run, typename Tr::T* c, int64_t ldc,
                      int ncols, bool load_c) {
  if constexpr (R > 1) {
    if (rows < R) {
      return DecodeKernelRows<Tr, R - 1>(rows, k, a, a_step, b, b_run, c, ldc, ncols, load_c);
    }
  }
  constexpr int kNV = Reg<typename Tr::T>::kNV, kNR = kNV * Tr::kW;
  constexpr int kP = DecodePanels(R);
  if (ncols == kP * kNR) {
    Kernel<Tr, R, kP * kNV, true, kNV>(k, a, a_step, b, kNR, c, ldc, ncols, load_c, b_run);
  } else {
    // The last chunk: panel by panel, a partial panel with masked loads and stores.
    for (int q = 0; q * kNR < ncols; ++q) {
      const int cols = static_cast<int>(Min(kNR, ncols - q * kNR));
      if (cols == kNR) {
        Kernel<Tr, R, kNV, true>(k, a, a_step, b + q * b_run, kNR, c + q * kNR, ldc, cols, load_c);
      } else {
        Kernel<Tr, R, kNV, false>(k, a, a_step, b + q * b_run, kNR, c + q * kNR, ldc, cols,
                                  load_c);
      }
    }
  }
}

// Each chunk of DecodePanels(rows) panels is streamed once from memory by the first row group and
// is still in L2 for the others; threads split the chunks (N), never K.
template <typename Tr>
void GemmDecodePacked(int64_t m, const float* a_in, int64_t lda, bool trans_a,
                      const PackedBView& pb, float* c, int64_t ldc, bool accumulate, int nt) {
  using T = typename Tr::T;
  constexpr int kMR = Reg<T>::kMR, kNR = Reg<T>::kNV * Tr::kW;
  const int64_t n = pb.n, k = pb.k;
  const int64_t grows = GroupRows(m, kMR);
  int64_t a_step, a_group;
  const T* a = PackAGroups<T, kMR>(m, k, a_in, lda, trans_a, grows, &a_step, &a_group);
  const int64_t panels_per_chunk = DecodePanels(static_cast<int>(grows));
  const int64_t width = panels_per_chunk * kNR;
  const int64_t chunks = CeilDiv(n, width);
  const int64_t b_run = k * kNR;
  kiln::ParallelFor(chunks, CeilDiv(chunks, nt), [&](int64_t q_lo, int64_t q_hi) {
    for (int64_t q = q_lo; q < q_hi; ++q) {
      const int64_t j = q * width;
      const int ncols = static_cast<int>(Min(width, n - j));
      const T* b = pb.data + (j / kNR) * b_run;
      for (int64_t i = 0, g = 0; i < m; i += grows, ++g) {
        const int rows = static_cast<int>(Min(grows, m - i));
        DecodeKernelRows<Tr, kMR>(rows, k, a + g * a_group, a_step, b, b_run, c + i * ldc + j,
                                  ldc, ncols, accumulate);
      }
    }
  });
}

// ---- The blocked driver (BLIS loops). With `prepacked`, B panels are read from a PackedB
// (panel q at prepacked + q * k * NR, k-block pc at + pc * NR) instead of being packed. ----
template <typename Tr, typename P>
void GemmBlocked(const P& p, const typename Tr::T* prepacked, int nt) {
  using T = typename Tr::T;
  constexpr int kMR = Reg<T>::kMR, kNV = Reg<T>::kNV, kNR = kNV * Tr::kW;
  const GemmBlocking& blk = Blocking<T>();
  const int64_t kKC = blk.kc, kMC = blk.mc, kNC = blk.nc;
  const int64_t m = p.m, n = p.n, k = p.k;

  const int64_t kc_max = Min(kKC, k);
  const int64_t nc_max = Min(kNC, CeilDiv(n, kNR) * kNR);
  const int64_t mc_max = Min(kMC, CeilDiv(m, kMR) * kMR);
  // Each thread packs the B panels and the A blocks it uses into its own buffers: no barriers,
  // so a thread that the OS preempts (2 shared cores) does not stall the others mid-call.
  // Rounded up to 16 elements, so every thread's buffers start 64-byte aligned and never overlap.
  const int64_t b_elems = prepacked != nullptr ? 0 : kc_max * nc_max;
  const int64_t per_thread = (b_elems + mc_max * kc_max + 15) & ~int64_t(15);
  T* const buf = static_cast<T*>(tl_scratch.Get(nt * per_thread * sizeof(T)));

  kiln::ParallelRun(nt, [&](int tid, int nthreads) {
    T* const b_buf = buf + tid * per_thread;
    T* const a_buf = b_buf + b_elems;
    const int64_t mtiles = CeilDiv(m, kMR);
    int tm = 1, tn = 1;
    ChooseGrid(nthreads, mtiles, CeilDiv(nc_max, kNR), &tm, &tn);
    const int ti = tid / tn, tj = tid % tn;
    const int64_t row_lo = Min(m, mtiles * ti / tm * kMR);
    const int64_t row_hi = Min(m, mtiles * (ti + 1) / tm * kMR);
    // This thread's rows fit one A block: pack A once per k-block, then pack each B panel right
    // before its use (it stays in L1 and is never written out to L2/L3).
    const bool one_block = row_hi - row_lo <= kMC;
    for (int64_t jc = 0; jc < n && row_lo < row_hi; jc += kNC) {
      const int64_t nc = Min(kNC, n - jc);
      const int64_t npanels = CeilDiv(nc, kNR);
      const int64_t pan_lo = npanels * tj / tn, pan_hi = npanels * (tj + 1) / tn;
      for (int64_t pc = 0; pc < k && pan_lo < pan_hi; pc += kKC) {
        const int64_t kc = Min(kKC, k - pc);
        const bool load_c = p.accumulate || pc > 0;
        auto panel = [&](int64_t q, T* dst) -> const T* {
          if (prepacked != nullptr) return prepacked + (jc / kNR + q) * k * kNR + pc * kNR;
          PackBPanel<T, kNR>(p.b, p.ldb, p.trans_b, pc, kc, jc + q * kNR, Min(kNR, nc - q * kNR),
                             dst);
          return dst;
        };
        auto tiles = [&](int64_t ic, int64_t mc, int64_t q, const T* b) {
          const int64_t j = q * kNR;
          const int ncols = static_cast<int>(Min(kNR, nc - j));
          for (int64_t ir = 0; ir < mc; ir += kMR) {
            const int rows = static_cast<int>(Min(kMR, mc - ir));
            T* c = p.c + (ic + ir) * p.ldc + jc + j;
            const T* a = a_buf + ir * kc;
            // Prefetch the next tile's C (only a full next tile: no line past C is touched).
            const T* c_next = ir + 2 * kMR <= mc && ncols == kNR ? c + kMR * p.ldc : nullptr;
            if (ncols == kNR) {
              KernelRows<Tr, kNV, true, kMR>(rows, kc, a, kMR, b, kNR, c, p.ldc, ncols, load_c,
                                             c_next);
            } else {
              KernelRows<Tr, kNV, false, kMR>(rows, kc, a, kMR, b, kNR, c, p.ldc, ncols, load_c);
            }
          }
        };
        if (one_block) {
          const int64_t mrows = row_hi - row_lo;
          PackA<T, kMR>(p.a, p.lda, p.trans_a, row_lo, mrows, pc, kc, a_buf);
          if (mrows <= kMR && prepacked == nullptr) {
            // Few rows (decoding through a transposed weight): pack a few panels side by side
            // and run the decoding kernel over them, so several FMA chains are in flight.
            const int64_t np = DecodePanels(static_cast<int>(mrows));
            for (int64_t q = pan_lo; q < pan_hi; q += np) {
              const int64_t cnt = Min(np, pan_hi - q);
              for (int64_t x = 0; x < cnt; ++x) panel(q + x, b_buf + x * kc * kNR);
              const int64_t j = q * kNR;
              DecodeKernelRows<Tr, kMR>(static_cast<int>(mrows), kc, a_buf, kMR, b_buf, kc * kNR,
                                        p.c + row_lo * p.ldc + jc + j, p.ldc,
                                        static_cast<int>(Min(cnt * kNR, nc - j)), load_c);
            }
            continue;
          }
          for (int64_t q = pan_lo; q < pan_hi; ++q) tiles(row_lo, mrows, q, panel(q, b_buf));
          continue;
        }
        if (prepacked == nullptr) {
          for (int64_t q = pan_lo; q < pan_hi; ++q) panel(q, b_buf + (q - pan_lo) * kc * kNR);
        }
        for (int64_t ic = row_lo; ic < row_hi; ic += kMC) {
          const int64_t mc = Min(kMC, row_hi - ic);
          PackA<T, kMR>(p.a, p.lda, p.trans_a, ic, mc, pc, kc, a_buf);
          for (int64_t q = pan_lo; q < pan_hi; ++q) {
            tiles(ic, mc, q,
                  prepacked != nullptr ? panel(q, nullptr) : b_buf + (q - pan_lo) * kc * kNR);
          }
        }
      }
    }
  });
}

template <typename Tr, typename P>
void Gemm(const P& p) {
  using T = typename Tr::T;
  constexpr int kMR = Reg<T>::kMR;
  const int64_t m = p.m, n = p.n, k = p.k;
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!p.accumulate) {
      for (int64_t i = 0; i < m; ++i) std::memset(p.c + i * p.ldc, 0, n * sizeof(T));
    }
    return;
  }
  const int nt = ThreadsFor(m, n, k, sizeof(T));
  if (m <= kSmallMaxGroups * kMR && !p.trans_b) return GemmSmallM<Tr>(p, nt);
  GemmBlocked<Tr>(p, nullptr, nt);
}

}  // namespace

void Sgemm(const SgemmParams& p) { Gemm<F32>(p); }
void Dgemm(const DgemmParams& p) { Gemm<F64>(p); }
GemmBlocking SgemmBlocking() { return Blocking<float>(); }
GemmBlocking DgemmBlocking() { return Blocking<double>(); }

void SgemmPackB(const float* b, int64_t ldb, bool trans_b, int64_t k, int64_t n, float* dst) {
  constexpr int kNR = Reg<float>::kNV * F32::kW;
  const int64_t panels = CeilDiv(n, kNR);
  // Packing is one pass over B: threads split the panels when there is enough of it.
  const int64_t grain = Max(1, (int64_t{1} << 18) / (k * kNR));
  kiln::ParallelFor(panels, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t q = lo; q < hi; ++q) {
      float* d = dst + q * k * kNR;
      const int64_t cols = Min(kNR, n - q * kNR);
      PackBPanel<float, kNR>(b, ldb, trans_b, 0, k, q * kNR, cols, d);
      if (cols < kNR) {
        for (int64_t kk = 0; kk < k; ++kk) {
          std::memset(d + kk * kNR + cols, 0, (kNR - cols) * sizeof(float));
        }
      }
    }
  });
}

void SgemmPacked(int64_t m, const float* a, int64_t lda, bool trans_a, const PackedBView& b,
                 float* c, int64_t ldc, bool accumulate) {
  const int64_t n = b.n, k = b.k;
  if (m <= 0) return;
  const int nt = ThreadsFor(m, n, k, sizeof(float));
  if (m <= kDecodeMaxM) return GemmDecodePacked<F32>(m, a, lda, trans_a, b, c, ldc, accumulate, nt);
  const SgemmParams p{m, n, k, a, lda, trans_a, nullptr, 0, false, c, ldc, accumulate};
  GemmBlocked<F32>(p, b.data, nt);
}

}  // namespace kiln::cpu::KILN_ISA_NS
