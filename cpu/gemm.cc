// kiln's CPU GEMM, built once per instruction-set path (cpu/CMakeLists.txt). Placeholder version:
// a plain loop that keeps the exactness rule (each C element is one FMA chain over k in order);
// the packed BLIS-style kernels replace it.
#include <omp.h>

#include <cstddef>
#include <cstdint>

#include "cpu/gemm.h"

namespace kiln::cpu::KILN_ISA_NS {
namespace {

inline float Fma(float a, float b, float c) { return __builtin_fmaf(a, b, c); }
inline double Fma(double a, double b, double c) { return __builtin_fma(a, b, c); }

template <typename T, typename P>
void GemmLoop(const P& p) {
  const int64_t m = p.m, n = p.n, k = p.k;
  if (m <= 0 || n <= 0) return;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < m; ++i) {
    T* c = p.c + i * p.ldc;
    if (!p.accumulate) {
      for (int64_t j = 0; j < n; ++j) c[j] = T(0);
    }
    for (int64_t kk = 0; kk < k; ++kk) {
      const T a = p.trans_a ? p.a[kk * p.lda + i] : p.a[i * p.lda + kk];
      for (int64_t j = 0; j < n; ++j) {
        const T b = p.trans_b ? p.b[j * p.ldb + kk] : p.b[kk * p.ldb + j];
        c[j] = Fma(a, b, c[j]);
      }
    }
  }
}

}  // namespace

void Sgemm(const SgemmParams& p) { GemmLoop<float>(p); }
void Dgemm(const DgemmParams& p) { GemmLoop<double>(p); }

}  // namespace kiln::cpu::KILN_ISA_NS
