// Entry points of the fused causal attention kernels: check the caller's parameters once (plain
// code, compiled once) and run the kernel of the active ISA path (cpu/attention.cc).
#include "cpu/attention.h"

#include "base/check.h"
#include "cpu/isa.h"

namespace kiln::cpu {
namespace {

// The checks both directions share; name is "AttentionForward" or "AttentionBackward".
template <typename P>
void CheckCommon(const P& p, const char* name) {
  KILN_CHECK(p.b >= 0 && p.tq >= 0 && p.tk >= 0)
      << name << ": negative size (B=" << p.b << ", Tq=" << p.tq << ", Tk=" << p.tk << ")";
  KILN_CHECK(p.hs >= 1) << name << ": HS must be >= 1, got " << p.hs;
  KILN_CHECK(p.nh >= 1 && p.nkv >= 1 && p.nh % p.nkv == 0)
      << name << ": NH must be a positive multiple of NKV, got NH=" << p.nh << ", NKV=" << p.nkv;
  KILN_CHECK(p.tq <= p.tk) << name << ": Tq (" << p.tq << ") must be <= Tk (" << p.tk
                           << "): queries are the last Tq key positions";
  KILN_CHECK(p.q && p.k && p.v) << name << ": q, k and v must not be null";
  KILN_CHECK(p.doc == nullptr || p.b <= 1 || p.doc_sb >= p.tk)
      << name << ": doc row stride " << p.doc_sb << " is below Tk=" << p.tk;
}

}  // namespace

void AttentionForward(const AttentionParams& p) {
  CheckCommon(p, "AttentionForward");
  KILN_CHECK(p.out) << "AttentionForward: out must not be null";
  if (p.b == 0 || p.tq == 0) return;
  switch (ActiveIsa()) {
    case Isa::kAvx512:
      return isa_avx512::AttentionForward(p);
    case Isa::kAvx2:
      return isa_avx2::AttentionForward(p);
    case Isa::kGeneric:
      return isa_generic::AttentionForward(p);
  }
}

void AttentionBackward(const AttentionBackwardParams& p) {
  CheckCommon(p, "AttentionBackward");
  KILN_CHECK(p.out && p.lse && p.dout && p.dq && p.dk && p.dv)
      << "AttentionBackward: out, lse, dout, dq, dk and dv must not be null";
  if (p.b == 0) return;
  switch (ActiveIsa()) {
    case Isa::kAvx512:
      return isa_avx512::AttentionBackward(p);
    case Isa::kAvx2:
      return isa_avx2::AttentionBackward(p);
    case Isa::kGeneric:
      return isa_generic::AttentionBackward(p);
  }
}

}  // namespace kiln::cpu
