// The caching host allocator (tensor/storage.cc): a freed block is handed out again for the next
// request of its size class, so a repeated pattern of allocations does no fresh allocation after
// its first round; under AddressSanitizer every block is exact-size and never reused (so overruns
// are still caught), which this test checks instead.
#include <gtest/gtest.h>

#include "tensor/storage.h"
#include "tensor/tensor.h"

namespace kiln {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitize = true;
#else
constexpr bool kSanitize = false;
#endif

void Round() {
  Tensor a = Tensor::Empty({1000, 37}, DType::kF32);
  Tensor b = Tensor::Empty({3}, DType::kF64);
  { Tensor c = Tensor::Empty({123457}, DType::kF32); }
  Tensor d = Tensor::Empty({123450}, DType::kF32);  // same size class as c: reuses its block
}

TEST(CachingAllocator, RepeatedRoundsReuseBlocks) {
  Round();
  const AllocatorStats before = CpuAllocatorStats();
  for (int i = 0; i < 5; ++i) Round();
  const AllocatorStats after = CpuAllocatorStats();
  EXPECT_EQ(after.allocations - before.allocations, 20);
  if (kSanitize) {
    EXPECT_EQ(after.fresh_allocations - before.fresh_allocations, 20);
  } else {
    EXPECT_EQ(after.fresh_allocations, before.fresh_allocations);
    EXPECT_GT(after.cached_bytes, 0);
  }
  EXPECT_EQ(after.in_use_bytes, before.in_use_bytes);
}

TEST(CachingAllocator, PeakAndRelease) {
  ResetCpuAllocatorPeak();
  const int64_t base = CpuAllocatorStats().in_use_bytes;
  {
    Tensor big = Tensor::Empty({1 << 20}, DType::kF32);
    EXPECT_GE(CpuAllocatorStats().in_use_bytes - base, int64_t{4} << 20);
  }
  const AllocatorStats s = CpuAllocatorStats();
  EXPECT_GE(s.peak_in_use_bytes - base, int64_t{4} << 20);
  EXPECT_LT(s.peak_in_use_bytes - base, int64_t{5} << 20);  // size classes waste at most 12.5%
  ReleaseCpuAllocatorCache();
  EXPECT_EQ(CpuAllocatorStats().cached_bytes, 0);
  Tensor again = Tensor::Empty({1 << 20}, DType::kF32);  // fresh after the release
  EXPECT_EQ(CpuAllocatorStats().in_use_bytes - base, s.peak_in_use_bytes - base);
}

}  // namespace
}  // namespace kiln
