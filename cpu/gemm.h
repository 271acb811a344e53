// kiln's own GEMM on the CPU (BLIS design: packed panels, register-blocked micro-kernels, cache
// blocking from the cache sizes read at run time, kiln's thread pool over the (M, N) tile grid),
// one build per instruction-set path. Every output element is one FMA chain over k in increasing
// order, so the bits do not depend on the path, the thread count, the blocking, the tile an
// element falls in, the batch size or whether B was pre-packed (docs/gemm.md). Plain header:
// structs and declarations only, because per-ISA kernel files include it.
#pragma once

#include <cstdint>

namespace kiln::cpu {

enum class Isa;  // cpu/isa.h

// C (m x n, row stride ldc) = op(A) (m x k) * op(B) (k x n), where op(A) = A (row stride lda) or,
// if trans_a, A is stored k x m (row stride lda) and used transposed; same for B.
// accumulate=false: C is overwritten; accumulate=true: each element's FMA chain starts from the
// old C. C must not overlap A or B.
struct SgemmParams {
  int64_t m, n, k;
  const float* a;
  int64_t lda;
  bool trans_a;
  const float* b;
  int64_t ldb;
  bool trans_b;
  float* c;
  int64_t ldc;
  bool accumulate;
};

struct DgemmParams {
  int64_t m, n, k;
  const double* a;
  int64_t lda;
  bool trans_a;
  const double* b;
  int64_t ldb;
  bool trans_b;
  double* c;
  int64_t ldc;
  bool accumulate;
};

// Data cache sizes (bytes) the blocking is derived from, read once per process: sysconf
// (_SC_LEVEL1_DCACHE_SIZE...), else /sys/devices/system/cpu/cpu0/cache, else CPUID (leaf 4 /
// 0x8000001D), else defaults (32 KiB, 1 MiB, 8 MiB). `source` names where each came from.
struct CacheSizes {
  int64_t l1d, l2, l3;
  const char* source;  // e.g. "sysconf", "sysfs", "cpuid", "default"
};
const CacheSizes& GemmCacheSizes();
// KILN_GEMM_BLOCKING="kc,mc,nc" (tuning only) replaces the derived cache blocking of every path;
// values are rounded to the path's register tile. Returns false when unset; a malformed value
// throws kiln::Error.
bool GemmBlockingOverride(int64_t* kc, int64_t* mc, int64_t* nc);

// Register and cache blocking of one path and element type (fixed per process).
struct GemmBlocking {
  int mr, nr;          // register tile: mr rows x nr columns of C
  int64_t kc, mc, nc;  // cache blocks: B kc x nc (L3), A mc x kc (L2), B micro-panel kc x nr (L1)
};

// Pre-packed B (weights): op(B) (k x n) copied once into the layout the path's kernels read,
// panels of nr columns, each the whole k: element (kk, j) at data[(j / nr) * k * nr + kk * nr +
// j % nr] (the last panel zero-padded). The layout depends on the path's nr only, not on the cache
// blocking. It is a snapshot: rebuild it (PackB again) whenever the weight changes (after an
// optimizer step, on load); it does not reference B after PackB returns. Owns 64-byte aligned
// memory; move-only.
class PackedB {
 public:
  PackedB() = default;
  ~PackedB();
  PackedB(PackedB&& o) noexcept;
  PackedB& operator=(PackedB&& o) noexcept;
  PackedB(const PackedB&) = delete;
  PackedB& operator=(const PackedB&) = delete;

  bool empty() const { return data_ == nullptr; }
  int64_t k() const { return k_; }
  int64_t n() const { return n_; }
  int nr() const { return nr_; }
  Isa isa() const { return isa_; }
  const float* data() const { return data_; }
  int64_t bytes() const;

 private:
  friend PackedB PackB(const float* b, int64_t ldb, bool trans_b, int64_t k, int64_t n);
  float* data_ = nullptr;
  int64_t k_ = 0, n_ = 0;
  int nr_ = 0;
  Isa isa_{};
};

// Packs op(B) (k x n; B stored k x n with row stride ldb, or n x k if trans_b) for ActiveIsa().
// k, n >= 1.
PackedB PackB(const float* b, int64_t ldb, bool trans_b, int64_t k, int64_t n);

// C (m x n) = op(A) (m x k) * B, B pre-packed (packed.k() == k, packed.n() == n): bitwise the same
// C as Sgemm on the unpacked B for every m, thread count and path. Runs the path the B was packed
// for (same bits on every path). M <= 16 takes the decoding path: the packed weights are streamed
// once, threads split N.
void SgemmPackedB(int64_t m, const float* a, int64_t lda, bool trans_a, const PackedB& packed,
                  float* c, int64_t ldc, bool accumulate);

// What one path builds (cpu/gemm.cc, compiled per path). The packed B is passed as a plain view.
struct PackedBView {
  const float* data;
  int64_t k, n;
};
#define KILN_GEMM_PATH_DECLS                                                                 \
  void Sgemm(const SgemmParams& p);                                                          \
  void Dgemm(const DgemmParams& p);                                                          \
  GemmBlocking SgemmBlocking();                                                              \
  GemmBlocking DgemmBlocking();                                                              \
  void SgemmPackB(const float* b, int64_t ldb, bool trans_b, int64_t k, int64_t n, float* dst); \
  void SgemmPacked(int64_t m, const float* a, int64_t lda, bool trans_a, const PackedBView& b, \
                   float* c, int64_t ldc, bool accumulate);
namespace isa_generic {
KILN_GEMM_PATH_DECLS
}  // namespace isa_generic
namespace isa_avx2 {
KILN_GEMM_PATH_DECLS
}  // namespace isa_avx2
namespace isa_avx512 {
KILN_GEMM_PATH_DECLS
}  // namespace isa_avx512
#undef KILN_GEMM_PATH_DECLS

// Entry points: dispatch on ActiveIsa() (cpu/isa.h). Defined in cpu/dispatch/gemm.cc.
void Sgemm(const SgemmParams& p);
void Dgemm(const DgemmParams& p);
GemmBlocking SgemmBlocking(Isa isa);
GemmBlocking DgemmBlocking(Isa isa);

}  // namespace kiln::cpu
