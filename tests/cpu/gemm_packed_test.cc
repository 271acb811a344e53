// Tests of the pre-packed B (cpu/gemm.h PackB / SgemmPackedB) and the decoding path over it:
// bitwise the same C as Sgemm on the unpacked B (itself proven equal to a scalar fma chain in
// gemm_test.cc) for every M in 1..40, both transposes of A and B, accumulate, thread counts 1-3
// and every path; the packed layout is the documented one; bad input is refused.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "base/check.h"
#include "base/thread_pool.h"
#include "cpu/gemm.h"
#include "cpu/isa.h"
#include "tests/testing/isa_threads_fixture.h"

namespace kiln::cpu {
namespace {

// Restores the ISA path and thread count a test changed.
class GemmPackedTest : public kiln::testing::IsaThreadsRestoringTest {};

std::vector<float> Random(int64_t count, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(count);
  for (auto& x : v) x = dist(gen);
  return v;
}

// One weight (B) and activations (A) with padded leading dimensions; C starts random so that
// accumulate and the untouched padding are both checked.
struct Case {
  int64_t n, k, lda, ldb, ldc;
  bool ta, tb;
  std::vector<float> a, b, c0;
  Case(int64_t max_m, int64_t n_, int64_t k_, bool ta_, bool tb_, uint32_t seed)
      : n(n_), k(k_), ta(ta_), tb(tb_) {
    lda = (ta ? max_m : k) + 3;
    ldb = (tb ? k : n) + 5;
    ldc = n + 2;
    a = Random((ta ? k : max_m) * lda, seed);
    b = Random((tb ? n : k) * ldb, seed + 1);
    c0 = Random(max_m * ldc, seed + 2);
  }
  std::vector<float> Plain(int64_t m, bool acc) const {
    std::vector<float> c = c0;
    Sgemm({m, n, k, a.data(), lda, ta, b.data(), ldb, tb, c.data(), ldc, acc});
    return c;
  }
  std::vector<float> Packed(int64_t m, bool acc, const PackedB& pb) const {
    std::vector<float> c = c0;
    SgemmPackedB(m, a.data(), lda, ta, pb, c.data(), ldc, acc);
    return c;
  }
};

std::string Describe(int64_t m, const Case& cs, bool acc) {
  return "m=" + std::to_string(m) + " n=" + std::to_string(cs.n) + " k=" + std::to_string(cs.k) +
         (cs.ta ? " At" : " A") + (cs.tb ? " Bt" : " B") + (acc ? " acc" : "") +
         " isa=" + IsaName(ActiveIsa()) + " threads=" + std::to_string(kiln::NumThreads());
}

// Every M in 1..max_m (decoding path up to 16, blocked path above), every path, both transposes,
// accumulate on/off, the given thread counts.
void SweepM(int64_t max_m, int64_t n, int64_t k, std::initializer_list<int> threads,
            uint32_t seed) {
  for (int t = 0; t < 4; ++t) {
    const Case cs(max_m, n, k, t & 1, t & 2, seed + t * 10);
    for (Isa isa : AvailableIsas()) {
      SetIsa(isa);
      const PackedB pb = PackB(cs.b.data(), cs.ldb, cs.tb, k, n);
      ASSERT_EQ(pb.isa(), isa);
      for (int th : threads) {
        kiln::SetNumThreads(th);
        for (int64_t m = 1; m <= max_m; ++m) {
          for (bool acc : {false, true}) {
            if (acc != (m % 3 == 1) && m > 3) continue;  // both for m <= 3, one for the rest
            const std::vector<float> want = cs.Plain(m, acc);
            const std::vector<float> got = cs.Packed(m, acc, pb);
            ASSERT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * sizeof(float)))
                << Describe(m, cs, acc);
          }
        }
      }
    }
  }
}

// Small: n not a multiple of any panel width (16, 32, 4), k odd; every M of 1..40.
TEST_F(GemmPackedTest, EveryMSmallShapeAllPathsBitEqualToSgemm) { SweepM(40, 77, 37, {1, 3}, 1); }

// k above every path's kc (the blocked path walks several k-blocks of the packed panels).
TEST_F(GemmPackedTest, KAcrossCacheBlocksBitEqualToSgemm) { SweepM(20, 45, 1100, {1}, 2); }

// Big enough that the decoding and blocked paths really use 2 and 3 threads (> 2 MFLOP).
TEST_F(GemmPackedTest, ThreadedBitEqualToSgemm) {
  for (int t = 0; t < 4; ++t) {
    const Case cs(40, 700, 300, t & 1, t & 2, 50 + t);
    for (Isa isa : AvailableIsas()) {
      if (isa == Isa::kGeneric) continue;  // scalar libm fma: covered by the small sweeps
      SetIsa(isa);
      const PackedB pb = PackB(cs.b.data(), cs.ldb, cs.tb, cs.k, cs.n);
      for (int64_t m : {1, 2, 5, 8, 13, 16, 17, 29, 40}) {
        kiln::SetNumThreads(1);
        const std::vector<float> want = cs.Plain(m, t == 3);
        for (int th : {1, 2, 3}) {
          kiln::SetNumThreads(th);
          const std::vector<float> got = cs.Packed(m, t == 3, pb);
          ASSERT_EQ(0, std::memcmp(got.data(), want.data(), got.size() * sizeof(float)))
              << Describe(m, cs, t == 3);
        }
      }
    }
  }
}

// The packed values sit where cpu/gemm.h says, the padding of the last panel is zero, and the
// copy is a snapshot: changing B afterwards does not change the product.
TEST_F(GemmPackedTest, LayoutAndSnapshot) {
  for (bool tb : {false, true}) {
    Case cs(4, 53, 19, false, tb, 77);
    const PackedB pb = PackB(cs.b.data(), cs.ldb, tb, cs.k, cs.n);
    const int nr = pb.nr();
    EXPECT_EQ(nr, SgemmBlocking(ActiveIsa()).nr);
    const int64_t panels = (cs.n + nr - 1) / nr;
    EXPECT_EQ(pb.bytes(), panels * nr * cs.k * int64_t(sizeof(float)));
    for (int64_t kk = 0; kk < cs.k; ++kk) {
      for (int64_t j = 0; j < panels * nr; ++j) {
        const float got = pb.data()[(j / nr) * cs.k * nr + kk * nr + j % nr];
        const float want = j >= cs.n ? 0.f : tb ? cs.b[j * cs.ldb + kk] : cs.b[kk * cs.ldb + j];
        ASSERT_EQ(got, want) << "k=" << kk << " j=" << j << (tb ? " Bt" : " B");
      }
    }
    const std::vector<float> before = cs.Packed(4, false, pb);
    for (auto& x : cs.b) x = 2.f;
    EXPECT_EQ(0, std::memcmp(before.data(), cs.Packed(4, false, pb).data(),
                             before.size() * sizeof(float)));
  }
}

// A PackedB built on one path runs that path's kernels whatever ActiveIsa() is later; the bits
// agree anyway.
TEST_F(GemmPackedTest, PackedOnOnePathUsedWithAnother) {
  const Case cs(9, 70, 50, false, true, 99);
  const std::vector<Isa> isas = AvailableIsas();
  SetIsa(isas.back());
  const PackedB pb = PackB(cs.b.data(), cs.ldb, true, cs.k, cs.n);
  SetIsa(isas.front());
  const std::vector<float> want = cs.Plain(9, false);
  EXPECT_EQ(0, std::memcmp(cs.Packed(9, false, pb).data(), want.data(),
                           want.size() * sizeof(float)));
}

TEST_F(GemmPackedTest, MoveTransfersOwnership) {
  const Case cs(3, 40, 20, false, false, 5);
  PackedB a = PackB(cs.b.data(), cs.ldb, false, cs.k, cs.n);
  const float* data = a.data();
  PackedB b = std::move(a);
  EXPECT_TRUE(a.empty());  // NOLINT(bugprone-use-after-move): documented moved-from state
  EXPECT_EQ(b.data(), data);
  PackedB c;
  c = std::move(b);
  EXPECT_EQ(c.data(), data);
  EXPECT_EQ(c.k(), 20);
  EXPECT_EQ(c.n(), 40);
  const std::vector<float> want = cs.Plain(3, false);
  EXPECT_EQ(0, std::memcmp(cs.Packed(3, false, c).data(), want.data(),
                           want.size() * sizeof(float)));
}

TEST_F(GemmPackedTest, BadInputIsRefused) {
  std::vector<float> b(100, 1.f), a(100, 1.f), c(100);
  EXPECT_THROW(PackB(b.data(), 10, false, 0, 10), kiln::Error);
  EXPECT_THROW(PackB(b.data(), 10, false, 10, 0), kiln::Error);
  EXPECT_THROW(PackB(b.data(), 5, false, 10, 10), kiln::Error);  // ldb < n
  EXPECT_THROW(PackB(b.data(), 5, true, 10, 4), kiln::Error);    // ldb < k
  const PackedB empty;
  EXPECT_THROW(SgemmPackedB(1, a.data(), 10, false, empty, c.data(), 10, false), kiln::Error);
}

// The cache sizes the blocking comes from are plausible and the blocks fit the formula's bounds.
TEST_F(GemmPackedTest, CacheSizesAndBlocking) {
  const CacheSizes& cs = GemmCacheSizes();
  EXPECT_GE(cs.l1d, 4 << 10);
  EXPECT_GE(cs.l2, cs.l1d);
  EXPECT_GE(cs.l3, 0);
  EXPECT_NE(std::string(cs.source), "");
  for (Isa isa : AvailableIsas()) {
    const GemmBlocking b = SgemmBlocking(isa);
    EXPECT_GT(b.kc, 0) << IsaName(isa);
    EXPECT_EQ(b.mc % b.mr, 0) << IsaName(isa);
    EXPECT_EQ(b.nc % b.nr, 0) << IsaName(isa);
    const GemmBlocking d = DgemmBlocking(isa);
    EXPECT_EQ(d.mc % d.mr, 0) << IsaName(isa);
  }
}

}  // namespace
}  // namespace kiln::cpu
