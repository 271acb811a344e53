// Entry points of kiln's CPU GEMM: pick the instruction-set build of cpu/gemm.cc that ActiveIsa()
// names. All builds give the same bits, so this choice changes speed only.
#include "cpu/gemm.h"

#include "cpu/isa.h"

namespace kiln::cpu {

void Sgemm(const SgemmParams& p) {
  switch (ActiveIsa()) {
    case Isa::kAvx512:
      return isa_avx512::Sgemm(p);
    case Isa::kAvx2:
      return isa_avx2::Sgemm(p);
    case Isa::kGeneric:
      break;
  }
  isa_generic::Sgemm(p);
}

void Dgemm(const DgemmParams& p) {
  switch (ActiveIsa()) {
    case Isa::kAvx512:
      return isa_avx512::Dgemm(p);
    case Isa::kAvx2:
      return isa_avx2::Dgemm(p);
    case Isa::kGeneric:
      break;
  }
  isa_generic::Dgemm(p);
}

}  // namespace kiln::cpu
