// Entry points of kiln's CPU GEMM: pick the instruction-set build of cpu/gemm.cc that ActiveIsa()
// names (all builds give the same bits, so this choice changes speed only), the cache sizes the
// blocking is derived from, and the pre-packed B (weights).
#include "cpu/gemm.h"

#include <cpuid.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

#include "base/check.h"
#include "cpu/isa.h"

namespace kiln::cpu {
namespace {

// "48K", "1024K", "32M" (sysfs size files) -> bytes; 0 if unreadable.
int64_t ReadSysfsSize(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return 0;
  char buf[64] = {};
  const bool ok = std::fgets(buf, sizeof(buf), f) != nullptr;
  std::fclose(f);
  if (!ok) return 0;
  char* end = nullptr;
  int64_t v = std::strtoll(buf, &end, 10);
  if (end == buf || v <= 0) return 0;
  if (*end == 'K') v <<= 10;
  if (*end == 'M') v <<= 20;
  return v;
}

std::string ReadSysfsWord(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return "";
  char buf[64] = {};
  const bool ok = std::fgets(buf, sizeof(buf), f) != nullptr;
  std::fclose(f);
  if (!ok) return "";
  std::string s(buf);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Level 1..3 data/unified cache sizes from sysfs (index0..index9 of cpu0).
void FromSysfs(int64_t size[4]) {
  for (int i = 0; i < 10; ++i) {
    const std::string dir = "/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/";
    const std::string type = ReadSysfsWord(dir + "type");
    if (type.empty()) continue;
    if (type != "Data" && type != "Unified") continue;
    const int level = std::atoi(ReadSysfsWord(dir + "level").c_str());
    if (level >= 1 && level <= 3 && size[level] <= 0) size[level] = ReadSysfsSize(dir + "size");
  }
}

// Deterministic cache parameters: CPUID leaf 4 (Intel) or 0x8000001D (AMD), same format.
void FromCpuid(int64_t size[4]) {
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return;
  const bool amd = ebx == 0x68747541;  // "Auth"enticAMD
  unsigned leaf = 4;
  if (amd) {
    if (__get_cpuid_max(0x80000000u, nullptr) < 0x8000001Du) return;
    leaf = 0x8000001Du;
  } else if (eax < 4) {
    return;
  }
  for (unsigned sub = 0; sub < 16; ++sub) {
    __cpuid_count(leaf, sub, eax, ebx, ecx, edx);
    const unsigned type = eax & 0x1F;  // 0 none, 1 data, 2 instruction, 3 unified
    if (type == 0) break;
    if (type == 2) continue;
    const int level = static_cast<int>((eax >> 5) & 0x7);
    const int64_t bytes = int64_t((ebx >> 22) + 1) * (((ebx >> 12) & 0x3FF) + 1) *
                          ((ebx & 0xFFF) + 1) * (int64_t(ecx) + 1);
    if (level >= 1 && level <= 3 && size[level] <= 0) size[level] = bytes;
  }
}

CacheSizes Detect() {
  int64_t size[4] = {0, 0, 0, 0};
  const char* src[4] = {"", "", "", ""};
  auto fill = [&](const char* name) {
    for (int l = 1; l <= 3; ++l) {
      if (size[l] > 0 && src[l][0] == '\0') src[l] = name;
    }
  };
#ifdef _SC_LEVEL1_DCACHE_SIZE
  size[1] = sysconf(_SC_LEVEL1_DCACHE_SIZE);
  size[2] = sysconf(_SC_LEVEL2_CACHE_SIZE);
  size[3] = sysconf(_SC_LEVEL3_CACHE_SIZE);
  for (int l = 1; l <= 3; ++l) {
    if (size[l] < 0) size[l] = 0;
  }
#endif
  fill("sysconf");
  FromSysfs(size);
  fill("sysfs");
  FromCpuid(size);
  fill("cpuid");
  const int64_t defaults[4] = {0, 32 << 10, 1 << 20, 8 << 20};
  for (int l = 1; l <= 3; ++l) {
    if (size[l] <= 0) size[l] = defaults[l];
  }
  fill("default");
  // One word when all three came from the same place, else "l1 sysconf, l2 ..., l3 ...".
  static std::string source;
  if (std::strcmp(src[1], src[2]) == 0 && std::strcmp(src[2], src[3]) == 0) {
    source = src[1];
  } else {
    source = std::string("l1 ") + src[1] + ", l2 " + src[2] + ", l3 " + src[3];
  }
  return CacheSizes{size[1], size[2], size[3], source.c_str()};
}

}  // namespace

const CacheSizes& GemmCacheSizes() {
  static const CacheSizes sizes = Detect();
  return sizes;
}

bool GemmBlockingOverride(int64_t* kc, int64_t* mc, int64_t* nc) {
  const char* env = std::getenv("KILN_GEMM_BLOCKING");
  if (env == nullptr || *env == '\0') return false;
  long long v[3];
  char tail = 0;
  KILN_CHECK(std::sscanf(env, "%lld,%lld,%lld%c", &v[0], &v[1], &v[2], &tail) == 3 &&
             v[0] >= 1 && v[1] >= 1 && v[2] >= 1 && v[0] <= (1 << 16) && v[1] <= (1 << 16) &&
             v[2] <= (1 << 20))
      << "KILN_GEMM_BLOCKING: expected three positive integers kc,mc,nc, got '" << env << "'";
  *kc = v[0];
  *mc = v[1];
  *nc = v[2];
  return true;
}

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
