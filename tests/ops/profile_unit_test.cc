// The op profiler counts calls, FLOPs and bytes per op (timings are not tested: speed belongs to
// benchmarks), and profiling changes no bits.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

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

std::string Printed(bool reset) {
  std::FILE* f = std::tmpfile();
  PrintProfile(f, reset);
  std::string text(static_cast<size_t>(std::ftell(f)), '\0');
  std::rewind(f);
  const size_t n = std::fread(text.data(), 1, text.size(), f);
  std::fclose(f);
  text.resize(n);
  return text;
}

TEST(Profile, StepsGiveSharesOfTheStep) {
  Tensor h = Randn({4, 5}, 1), w = Randn({7, 5}, 2);
  Tensor t = FromVector<int64_t>({0, 6, 3, 1}, {4});
  SetProfiling(true);
  ResetProfile();
  for (int s = 0; s < 2; ++s) {
    std::vector<Tensor> out = LinearCrossEntropy(h, w, t, -100, 0.0);
    LinearCrossEntropyBackward(h, w, t, out[1], Ones({4}), -100, 0.0);
    ProfileStep();
  }
  SetProfiling(false);
  EXPECT_EQ(GetOpProfile(Op::kLinearCrossEntropy).calls, 2);
  EXPECT_DOUBLE_EQ(GetOpProfile(Op::kLinearCrossEntropy).flops, 2 * (2.0 * 4 * 5 * 7));
  EXPECT_DOUBLE_EQ(GetOpProfile(Op::kLinearCrossEntropyBackward).flops, 2 * (6.0 * 4 * 5 * 7));
  const std::string text = Printed(/*reset=*/true);
  EXPECT_NE(text.find("2 steps"), std::string::npos) << text;
  EXPECT_NE(text.find("LinearCrossEntropyBackward"), std::string::npos) << text;
  EXPECT_NE(text.find("(outside kernels)"), std::string::npos) << text;
  EXPECT_NE(text.find("ms/step"), std::string::npos) << text;
  EXPECT_EQ(GetOpProfile(Op::kLinearCrossEntropy).calls, 0);
}

}  // namespace
}  // namespace kiln::ops
