// Entry points of kiln's CPU GEMM: pick the instruction-set build of cpu/gemm.cc that ActiveIsa()
// names (all builds give the same bits, so this choice changes speed only), and the pre-packed B
// (weights). The cache sizes are read in cpu/dispatch/gemm_cache.cc.
#include "cpu/gemm.h"

#include <new>

#include "base/check.h"
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

GemmBlocking SgemmBlocking(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return isa_avx512::SgemmBlocking();
    case Isa::kAvx2:
      return isa_avx2::SgemmBlocking();
    case Isa::kGeneric:
      break;
  }
  return isa_generic::SgemmBlocking();
}

GemmBlocking DgemmBlocking(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return isa_avx512::DgemmBlocking();
    case Isa::kAvx2:
      return isa_avx2::DgemmBlocking();
    case Isa::kGeneric:
      break;
  }
  return isa_generic::DgemmBlocking();
}

// ---- Pre-packed B. ----

PackedB::~PackedB() {
  if (data_ != nullptr) ::operator delete[](data_, std::align_val_t(64));
}

PackedB::PackedB(PackedB&& o) noexcept
    : data_(o.data_), k_(o.k_), n_(o.n_), nr_(o.nr_), isa_(o.isa_) {
  o.data_ = nullptr;
  o.k_ = o.n_ = 0;
  o.nr_ = 0;
}

PackedB& PackedB::operator=(PackedB&& o) noexcept {
  if (this != &o) {
    if (data_ != nullptr) ::operator delete[](data_, std::align_val_t(64));
    data_ = o.data_;
    k_ = o.k_;
    n_ = o.n_;
    nr_ = o.nr_;
    isa_ = o.isa_;
    o.data_ = nullptr;
    o.k_ = o.n_ = 0;
    o.nr_ = 0;
  }
  return *this;
}

int64_t PackedB::bytes() const {
  return nr_ == 0 ? 0 : (n_ + nr_ - 1) / nr_ * nr_ * k_ * int64_t(sizeof(float));
}

PackedB PackB(const float* b, int64_t ldb, bool trans_b, int64_t k, int64_t n) {
  KILN_CHECK(k >= 1 && n >= 1) << "PackB: expected k >= 1 and n >= 1, got k=" << k << " n=" << n;
  KILN_CHECK(ldb >= (trans_b ? k : n))
      << "PackB: ldb " << ldb << " is smaller than the row length " << (trans_b ? k : n);
  PackedB out;
  out.isa_ = ActiveIsa();
  out.nr_ = SgemmBlocking(out.isa_).nr;
  out.k_ = k;
  out.n_ = n;
  out.data_ = static_cast<float*>(::operator new[](out.bytes(), std::align_val_t(64)));
  switch (out.isa_) {
    case Isa::kAvx512:
      isa_avx512::SgemmPackB(b, ldb, trans_b, k, n, out.data_);
      break;
    case Isa::kAvx2:
      isa_avx2::SgemmPackB(b, ldb, trans_b, k, n, out.data_);
      break;
    case Isa::kGeneric:
      isa_generic::SgemmPackB(b, ldb, trans_b, k, n, out.data_);
      break;
  }
  return out;
}

void SgemmPackedB(int64_t m, const float* a, int64_t lda, bool trans_a, const PackedB& packed,
                  float* c, int64_t ldc, bool accumulate) {
  KILN_CHECK(!packed.empty()) << "SgemmPackedB: the PackedB is empty (build it with PackB)";
  const PackedBView view{packed.data(), packed.k(), packed.n()};
  switch (packed.isa()) {
    case Isa::kAvx512:
      return isa_avx512::SgemmPacked(m, a, lda, trans_a, view, c, ldc, accumulate);
    case Isa::kAvx2:
      return isa_avx2::SgemmPacked(m, a, lda, trans_a, view, c, ldc, accumulate);
    case Isa::kGeneric:
      break;
  }
  isa_generic::SgemmPacked(m, a, lda, trans_a, view, c, ldc, accumulate);
}

}  // namespace kiln::cpu
