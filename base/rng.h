// The one random generator of kiln: Philox4x32-10 (Salmon et al. 2011), counter based. A random
// value is a pure function of (seed, counter), so element i of a random tensor is the same whatever
// the thread count, the chunking of the work or the device (the CUDA kernels use the same code).
#pragma once

#include <cstdint>

// The generator and UniformFromBits are also device code in the CUDA kernels (cuda/dropout.cu).
#if defined(__CUDACC__)
#define KILN_HOST_DEVICE __host__ __device__
#else
#define KILN_HOST_DEVICE
#endif

namespace kiln {

struct Philox4x32 {
  uint32_t v[4];
};

// Philox4x32-10 of counter (c0..c3) under key (k0, k1).
// static: per-ISA kernel files (cpu/) use these; internal linkage keeps an AVX-512 copy private.
KILN_HOST_DEVICE static inline Philox4x32 Philox(uint64_t seed, uint64_t counter_lo, uint64_t counter_hi = 0) {
  uint32_t c0 = static_cast<uint32_t>(counter_lo), c1 = static_cast<uint32_t>(counter_lo >> 32);
  uint32_t c2 = static_cast<uint32_t>(counter_hi), c3 = static_cast<uint32_t>(counter_hi >> 32);
  uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int r = 0; r < 10; ++r) {
    uint64_t p0 = static_cast<uint64_t>(kM0) * c0;
    uint64_t p1 = static_cast<uint64_t>(kM1) * c2;
    uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += kW0;
    k1 += kW1;
  }
  return {{c0, c1, c2, c3}};
}

// Uniform in [0, 1) with 24 random bits (exactly representable as float).
KILN_HOST_DEVICE static inline float UniformFromBits(uint32_t bits) {
  return static_cast<float>(bits >> 8) * (1.0f / 16777216.0f);
}
// Uniform in (0, 1] with 53 random bits, for the double path.
static inline double UniformDoubleFromBits(uint32_t hi, uint32_t lo) {
  uint64_t x = (static_cast<uint64_t>(hi) << 21) ^ (lo >> 11);
  return (static_cast<double>(x & ((1ull << 53) - 1)) + 1.0) * (1.0 / 9007199254740992.0);
}

// Standard normal from one Philox block (Box-Muller on the first two words pairs), using kiln's
// own log / sin / cos so the bits do not depend on the C library.
double NormalFromBlock(const Philox4x32& block);

// A stream view over Philox for the host code that wants "the next number" (data shuffles,
// initializers): draw n is Philox(seed, offset + n), so a stream can be saved as (seed, offset).
class RngStream {
 public:
  explicit RngStream(uint64_t seed, uint64_t offset = 0) : seed_(seed), offset_(offset) {}
  uint32_t NextU32() { return Philox(seed_, offset_++).v[0]; }
  uint64_t NextU64() {
    auto b = Philox(seed_, offset_++);
    return (static_cast<uint64_t>(b.v[0]) << 32) | b.v[1];
  }
  // Uniform integer in [0, n) without modulo bias worth caring about (64-bit multiply-shift).
  uint64_t UniformInt(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(NextU64()) * n) >> 64);
  }
  double UniformDouble() {
    auto b = Philox(seed_, offset_++);
    return UniformDoubleFromBits(b.v[0], b.v[1]) - 0x1p-53;  // [0, 1)
  }
  double Normal() { return NormalFromBlock(Philox(seed_, offset_++)); }
  uint64_t seed() const { return seed_; }
  uint64_t offset() const { return offset_; }

 private:
  uint64_t seed_;
  uint64_t offset_;
};

}  // namespace kiln
