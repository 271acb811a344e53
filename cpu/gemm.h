// kiln's own GEMM on the CPU (BLIS design: packed panels, register-blocked micro-kernels, cache
// blocking, OpenMP over the (M, N) tile grid), one build per instruction-set path. Every output
// element is one FMA chain over k in increasing order, so the bits do not depend on the path, the
// thread count, the tile an element falls in or the batch size (docs/gemm.md). Plain header:
// structs and declarations only, because per-ISA kernel files include it.
#pragma once

#include <cstdint>

namespace kiln::cpu {

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

namespace isa_generic {
void Sgemm(const SgemmParams& p);
void Dgemm(const DgemmParams& p);
}  // namespace isa_generic
namespace isa_avx2 {
void Sgemm(const SgemmParams& p);
void Dgemm(const DgemmParams& p);
}  // namespace isa_avx2
namespace isa_avx512 {
void Sgemm(const SgemmParams& p);
void Dgemm(const DgemmParams& p);
}  // namespace isa_avx512

// Entry points: dispatch on ActiveIsa() (cpu/isa.h). Defined in cpu/dispatch/gemm.cc.
void Sgemm(const SgemmParams& p);
void Dgemm(const DgemmParams& p);

}  // namespace kiln::cpu
