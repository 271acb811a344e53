// The op profiler counts calls, FLOPs and bytes per op (timings are not tested: speed belongs to
// benchmarks), and profiling changes no bits.
#include <cstring>

#include "gtest/gtest.h"
#include "ops/api.h"
#include "ops/profile.h"

namespace kiln::ops {
namespace {

TEST(Profile, CountsMatmulFlopsAndBytes) {
  Tensor a = Randn({4, 5}, 1), b = Randn({6, 5}, 2);
  Tensor before = Matmul(a, b, false, true);
  SetProfiling(true);
  Tensor with = Matmul(a, b, false, true);
  Tensor t = Matmul(Transpose(a, 0, 1).Detach(), b, true, true);  // trans_a: K from dim -2
  SetProfiling(false);
  Matmul(a, b, false, true);  // not counted
  OpProfile p = GetOpProfile(Op::kMatmul);
  EXPECT_EQ(p.calls, 2);
  EXPECT_DOUBLE_EQ(p.flops, 2 * (2.0 * 4 * 6 * 5));
  EXPECT_DOUBLE_EQ(p.bytes, 2 * 4.0 * (4 * 5 + 6 * 5 + 4 * 6));
  EXPECT_GE(p.seconds, 0.0);
  auto x = before.ToVector<float>(), y = with.ToVector<float>();
  EXPECT_EQ(std::memcmp(x.data(), y.data(), x.size() * sizeof(float)), 0);
  std::FILE* f = std::tmpfile();
  PrintProfile(f, /*reset=*/true);
  EXPECT_GT(std::ftell(f), 0);
  std::fclose(f);
  EXPECT_EQ(GetOpProfile(Op::kMatmul).calls, 0);
}

}  // namespace
}  // namespace kiln::ops
