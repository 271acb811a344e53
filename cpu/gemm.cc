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
struct Blocking;
template <>
struct Blocking<float> {
  static constexpr int kMR = 14, kNV = 2, kKC = 256, kMC = 14 * 24, kNC = 3072;
};
template <>
struct Blocking<double> {
  static constexpr int kMR = 14, kNV = 2, kKC = 256, kMC = 14 * 12, kNC = 2048;
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
struct Blocking;
template <>
struct Blocking<float> {
  static constexpr int kMR = 6, kNV = 2, kKC = 256, kMC = 6 * 24, kNC = 3072;
};
template <>
struct Blocking<double> {
  static constexpr int kMR = 6, kNV = 2, kKC = 256, kMC = 6 * 12, kNC = 2048;
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
struct Blocking {
  static constexpr int kMR = 4, kNV = 4, kKC = 256, kMC = 64, kNC = 1024;
};
#endif

// ---- Micro-kernel. ----
// C[0..R)[0..ncols) (row stride ldc) gets, per element, acc = load_c ? C : 0 followed by
// acc = fma(a[r], b[j], acc) for each of the kc steps, in order: exactly the chain of the contract.
// a: packed A micro-panel, element (r, k) at a[k * a_step + r]. b: element (k, j) at
// b[k * b_step + j] (a packed panel, or B itself when it is read in place).
template <typename Tr, int R, int NV, bool kFull>
void Kernel(int64_t kc, const typename Tr::T* a, int64_t a_step, const typename Tr::T* b,
            int64_t b_step, typename Tr::T* c, int64_t ldc, int ncols, bool load_c) {
  using V = typename Tr::V;
  constexpr int kW = Tr::kW;
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
    for (int v = 0; v < NV; ++v)
      bv[v] = kFull ? Tr::Load(b + v * kW) : Tr::LoadM(b + v * kW, mask[v]);
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
                bool load_c) {
  if constexpr (R > 1) {
    if (rows < R) {
      return KernelRows<Tr, NV, kFull, R - 1>(rows, kc, a, a_step, b, b_step, c, ldc, ncols,
                                              load_c);
    }
  }
  Kernel<Tr, R, NV, kFull>(kc, a, a_step, b, b_step, c, ldc, ncols, load_c);
}

// ---- Packing. ----
// A block rows [i0, i0 + mc) x k [p0, p0 + kc) into micro-panels of MR rows: element (r, k) of
// micro-panel q at dst[q * MR * kc + k * MR + r]. Rows past mc are not written (never read).
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
      for (int64_t r = 0; r < rows; ++r) {
        const T* s = a + (i0 + q + r) * lda + p0;
        for (int64_t kk = 0; kk < kc; ++kk) d[kk * MR + r] = s[kk];
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
  // B is stored n x k: walk 8 columns at a time so each source row is read sequentially while
  // the writes stay within a few cache lines.
  for (int64_t j = 0; j < cols; j += 8) {
    const int64_t jn = cols - j < 8 ? cols - j : 8;
    for (int64_t kk = 0; kk < kc; ++kk) {
      for (int64_t x = 0; x < jn; ++x) dst[kk * NR + j + x] = b[(j0 + j + x) * ldb + p0 + kk];
    }
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

inline int64_t CeilDiv(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t Min(int64_t a, int64_t b) { return a < b ? a : b; }

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
constexpr int kAccRegs = Blocking<float>::kMR * Blocking<float>::kNV;

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

// Few rows and B not transposed (decoding, small batches): B is read in place, one pass per
// column chunk, since each B element serves a few rows only and packing it would triple the memory
// traffic. Nothing is packed but A, so the whole K runs without blocking. With M <= MR one row
// group runs with the widest chunk the registers allow; with more rows the chunk is one register
// tile wide and stays in L1/L2 while every row group of MR rows walks it.
template <typename Tr, typename P>
void GemmSmallM(const P& p, int nt) {
  using T = typename Tr::T;
  constexpr int kMR = Blocking<T>::kMR, kNV = Blocking<T>::kNV;
  const int64_t m = p.m, n = p.n, k = p.k;
  const bool one_group = m <= kMR;
  const int64_t width = (one_group ? SmallNV(static_cast<int>(m)) : kNV) * Tr::kW;
  // A as (r, k) at a[k * a_step + r] per row group: a transposed A already is; otherwise pack it.
  const T* a = p.a;
  int64_t a_step = p.lda, a_group = kMR;
  if (!p.trans_a) {
    T* packed = static_cast<T*>(tl_scratch.Get(CeilDiv(m, kMR) * kMR * k * sizeof(T) + 64));
    PackA<T, kMR>(p.a, p.lda, false, 0, m, 0, k, packed);
    a = packed;
    a_step = kMR;
    a_group = kMR * k;
  }
  const int64_t chunks = CeilDiv(n, width);
  kiln::ParallelFor(chunks, CeilDiv(chunks, nt), [&](int64_t q_lo, int64_t q_hi) {
    for (int64_t q = q_lo; q < q_hi; ++q) {
      const int64_t j = q * width;
      const int ncols = static_cast<int>(Min(width, n - j));
      const bool full = ncols == width;
      for (int64_t i = 0; i < m; i += kMR) {
        const int rows = static_cast<int>(Min(kMR, m - i));
        const T* ai = a + (i / kMR) * a_group;
        T* c = p.c + i * p.ldc + j;
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

template <typename Tr, typename P>
void Gemm(const P& p) {
  using T = typename Tr::T;
  using Blk = Blocking<T>;
  constexpr int kMR = Blk::kMR, kNV = Blk::kNV, kNR = kNV * Tr::kW;
  constexpr int64_t kKC = Blk::kKC, kMC = Blk::kMC, kNC = Blk::kNC;
  static_assert(kMC % kMR == 0 && kNC % kNR == 0);
  const int64_t m = p.m, n = p.n, k = p.k;
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!p.accumulate) {
      for (int64_t i = 0; i < m; ++i) std::memset(p.c + i * p.ldc, 0, n * sizeof(T));
    }
    return;
  }
  // Threads only where the work pays for waking them (~2 MFLOP each): a fork/join costs a few
  // microseconds on a quiet machine and far more when the cores are shared.
  const int64_t want = m * n * k / (1 << 20) + 1;
  const int max_threads = kiln::NumThreads();
  const int nt = static_cast<int>(want < max_threads ? want : max_threads);
  if (m <= kSmallMaxGroups * kMR && !p.trans_b) return GemmSmallM<Tr>(p, nt);

  const int64_t kc_max = Min(kKC, k);
  const int64_t nc_max = Min(kNC, CeilDiv(n, kNR) * kNR);
  const int64_t mc_max = Min(kMC, CeilDiv(m, kMR) * kMR);
  // Each thread packs the B panels and the A blocks it uses into its own buffers: no barriers,
  // so a thread that the OS preempts (2 shared cores) does not stall the others mid-call.
  // Rounded up to 16 elements, so every thread's buffers start 64-byte aligned and never overlap.
  const int64_t per_thread = (kc_max * nc_max + mc_max * kc_max + 15) & ~int64_t(15);
  T* const buf = static_cast<T*>(tl_scratch.Get(nt * per_thread * sizeof(T)));

  kiln::ParallelRun(nt, [&](int tid, int nthreads) {
    T* const b_buf = buf + tid * per_thread;
    T* const a_buf = b_buf + kc_max * nc_max;
    const int64_t mtiles = CeilDiv(m, kMR);
    int tm = 1, tn = 1;
    ChooseGrid(nthreads, mtiles, CeilDiv(nc_max, kNR), &tm, &tn);
    const int ti = tid / tn, tj = tid % tn;
    const int64_t row_lo = Min(m, mtiles * ti / tm * kMR);
    const int64_t row_hi = Min(m, mtiles * (ti + 1) / tm * kMR);
    for (int64_t jc = 0; jc < n && row_lo < row_hi; jc += kNC) {
      const int64_t nc = Min(kNC, n - jc);
      const int64_t npanels = CeilDiv(nc, kNR);
      const int64_t pan_lo = npanels * tj / tn, pan_hi = npanels * (tj + 1) / tn;
      for (int64_t pc = 0; pc < k && pan_lo < pan_hi; pc += kKC) {
        const int64_t kc = Min(kKC, k - pc);
        const bool load_c = p.accumulate || pc > 0;
        for (int64_t q = pan_lo; q < pan_hi; ++q) {
          PackBPanel<T, kNR>(p.b, p.ldb, p.trans_b, pc, kc, jc + q * kNR, Min(kNR, nc - q * kNR),
                             b_buf + (q - pan_lo) * kc * kNR);
        }
        for (int64_t ic = row_lo; ic < row_hi; ic += kMC) {
          const int64_t mc = Min(kMC, row_hi - ic);
          PackA<T, kMR>(p.a, p.lda, p.trans_a, ic, mc, pc, kc, a_buf);
          for (int64_t q = pan_lo; q < pan_hi; ++q) {
            const int64_t j = q * kNR;
            const int ncols = static_cast<int>(Min(kNR, nc - j));
            const T* b = b_buf + (q - pan_lo) * kc * kNR;
            for (int64_t ir = 0; ir < mc; ir += kMR) {
              const int rows = static_cast<int>(Min(kMR, mc - ir));
              T* c = p.c + (ic + ir) * p.ldc + jc + j;
              const T* a = a_buf + ir * kc;
              if (ncols == kNR) {
                KernelRows<Tr, kNV, true, kMR>(rows, kc, a, kMR, b, kNR, c, p.ldc, ncols, load_c);
              } else {
                KernelRows<Tr, kNV, false, kMR>(rows, kc, a, kMR, b, kNR, c, p.ldc, ncols, load_c);
              }
            }
          }
        }
      }
    }
  });
}

}  // namespace

void Sgemm(const SgemmParams& p) { Gemm<F32>(p); }
void Dgemm(const DgemmParams& p) { Gemm<F64>(p); }

}  // namespace kiln::cpu::KILN_ISA_NS
