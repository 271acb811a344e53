// Pre-packed weights (ops/weight_hint.h, cpu/packed_weights.h): parameters read without autograd
// go through the CPU's packed-weight cache; the numbers must be bitwise those of the plain GEMM,
// an in-place write must never be answered from a stale packing, and freeing a weight drops it.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "autograd/api.h"
#include "cpu/isa.h"
#include "cpu/packed_weights.h"

namespace kiln {
namespace {

bool SameBits(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = a.ToVector<float>(), y = b.ToVector<float>();
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

Tensor Param(const Shape& shape, uint64_t seed) {
  Tensor p = Randn(shape, seed);
  p.set_requires_grad(true);
  return p;
}

TEST(WeightCacheTest, PackedLinearAndMatmulAreBitwiseThePlainOnes) {
  Tensor w = Param({40, 70}, 1), bias = Param({40}, 2), head = Param({33, 70}, 3);
  const cpu::Isa initial = cpu::ActiveIsa();
  for (cpu::Isa isa : cpu::AvailableIsas()) {
    cpu::SetIsa(isa);
    for (int64_t m : {1, 2, 5, 16, 17, 40}) {
      Tensor x = Randn({m, 70}, 10 + m);
      Tensor plain_lin = Linear(x, w, bias), plain_mm = Matmul(x, head, false, true);
      NoGradGuard no_grad;
      const cpu::PackedWeightStats before = cpu::GetPackedWeightStats();
      Tensor lin = Linear(x, w, bias), mm = Matmul(x, head, false, true);
      const cpu::PackedWeightStats after = cpu::GetPackedWeightStats();
      EXPECT_EQ(after.packs + after.hits - before.packs - before.hits, 2)
          << "both weights should come from the cache";
      EXPECT_TRUE(SameBits(lin, plain_lin)) << cpu::IsaName(isa) << " m=" << m;
      EXPECT_TRUE(SameBits(mm, plain_mm)) << cpu::IsaName(isa) << " m=" << m;
    }
  }
  cpu::SetIsa(initial);
}

TEST(WeightCacheTest, SecondCallHitsAndAnInPlaceWriteRepacks) {
  Tensor w = Param({24, 32}, 4);
  Tensor x = Randn({3, 32}, 5);
  NoGradGuard no_grad;
  const cpu::PackedWeightStats s0 = cpu::GetPackedWeightStats();
  Tensor y1 = Linear(x, w, Tensor());
  Tensor y2 = Linear(x, w, Tensor());
  const cpu::PackedWeightStats s1 = cpu::GetPackedWeightStats();
  EXPECT_EQ(s1.packs - s0.packs, 1);
  EXPECT_EQ(s1.hits - s0.hits, 1);
  EXPECT_TRUE(SameBits(y1, y2));
  // An optimizer step or a load writes the weight in place (the storage version moves): the next
  // call must see the new values, never the old packing.
  w.CopyFrom_(Randn({24, 32}, 6));
  Tensor y3 = Linear(x, w, Tensor());
  const cpu::PackedWeightStats s2 = cpu::GetPackedWeightStats();
  EXPECT_EQ(s2.packs - s1.packs, 1);
  Tensor w_plain = w.Detach();  // not a parameter: the plain GEMM
  EXPECT_TRUE(SameBits(y3, Linear(x, w_plain, Tensor())));
  EXPECT_FALSE(SameBits(y3, y1));
}

TEST(WeightCacheTest, FreeingTheWeightDropsItsPacking) {
  NoGradGuard no_grad;
  const int64_t entries_before = cpu::GetPackedWeightStats().entries;
  {
    Tensor w = Param({64, 48}, 7);
    Linear(Randn({2, 48}, 8), w, Tensor());
    EXPECT_EQ(cpu::GetPackedWeightStats().entries, entries_before + 1);
  }
  EXPECT_EQ(cpu::GetPackedWeightStats().entries, entries_before);
}

TEST(WeightCacheTest, TrainingModeAndPlainTensorsAreNotCached) {
  Tensor w = Param({16, 16}, 9);
  Tensor x = Randn({4, 16}, 10);
  const cpu::PackedWeightStats s0 = cpu::GetPackedWeightStats();
  Linear(x, w, Tensor());  // autograd on: weights change every step, nothing is cached
  {
    NoGradGuard no_grad;
    Linear(x, Randn({16, 16}, 11), Tensor());  // an activation, not a parameter
  }
  const cpu::PackedWeightStats s1 = cpu::GetPackedWeightStats();
  EXPECT_EQ(s1.packs + s1.hits, s0.packs + s0.hits);
}

}  // namespace
}  // namespace kiln
