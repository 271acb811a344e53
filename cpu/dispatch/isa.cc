// CPUID-based choice of the CPU instruction-set path.
#include "cpu/isa.h"

#include <cpuid.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "base/check.h"

namespace kiln::cpu {
namespace {

bool OsSavesZmm() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_OSXSAVE)) return false;
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (lo & 0xE6) == 0xE6;  // XMM, YMM, opmask, ZMM_Hi256, Hi16_ZMM
}
bool OsSavesYmm() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_OSXSAVE)) return false;
  unsigned lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (lo & 0x6) == 0x6;
}

Isa Detect() {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return Isa::kGeneric;
  bool fma = ecx & bit_FMA, f16c = ecx & bit_F16C;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return Isa::kGeneric;
  bool avx2 = ebx & bit_AVX2;
  bool avx512 = (ebx & bit_AVX512F) && (ebx & bit_AVX512BW) && (ebx & bit_AVX512DQ) &&
                (ebx & bit_AVX512VL);
  if (avx512 && avx2 && fma && f16c && OsSavesZmm()) return Isa::kAvx512;
  if (avx2 && fma && f16c && OsSavesYmm()) return Isa::kAvx2;
  return Isa::kGeneric;
}

Isa FromEnv() {
  const char* env = std::getenv("KILN_ISA");
  Isa best = DetectIsa();
  if (env == nullptr || *env == '\0') return best;
  Isa want;
  if (std::strcmp(env, "generic") == 0) {
    want = Isa::kGeneric;
  } else if (std::strcmp(env, "avx2") == 0) {
    want = Isa::kAvx2;
  } else if (std::strcmp(env, "avx512") == 0) {
    want = Isa::kAvx512;
  } else {
    KILN_CHECK(false) << "KILN_ISA: expected generic, avx2 or avx512, got '" << env << "'";
  }
  KILN_CHECK(static_cast<int>(want) <= static_cast<int>(best))
      << "KILN_ISA=" << env << ": this machine supports at most " << IsaName(best);
  return want;
}

std::atomic<int> g_isa{-1};

}  // namespace

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kGeneric: return "generic";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
  }
  return "?";
}

Isa DetectIsa() {
  static const Isa isa = Detect();
  return isa;
}

std::vector<Isa> AvailableIsas() {
  std::vector<Isa> out;
  for (int i = 0; i <= static_cast<int>(DetectIsa()); ++i) out.push_back(static_cast<Isa>(i));
  return out;
}

Isa ActiveIsa() {
  int v = g_isa.load(std::memory_order_relaxed);
  if (v < 0) {
    v = static_cast<int>(FromEnv());
    g_isa.store(v, std::memory_order_relaxed);
  }
  return static_cast<Isa>(v);
}

void SetIsa(Isa isa) {
  KILN_CHECK(static_cast<int>(isa) <= static_cast<int>(DetectIsa()))
      << "SetIsa: this machine cannot run the " << IsaName(isa) << " path (best: "
      << IsaName(DetectIsa()) << ")";
  g_isa.store(static_cast<int>(isa), std::memory_order_relaxed);
}

}  // namespace kiln::cpu
