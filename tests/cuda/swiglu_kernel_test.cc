// The SwiGLU CUDA kernels (cuda/swiglu.cu) through the interpreter: bitwise the unfused CUDA chain
// (Silu then Mul forward; Mul's and Silu's backward), and against the CPU kernels (kmath's exp and
// two-branch sigmoid vs expf in 1 / (1 + e^-x)) within a few ulp: 4e-6 relative, with an absolute
// floor of 1e-6 for the values near 0 where silu'(x) cancels. Lengths cover the float4 path and
// a misaligned tail (Swiglu uses cuda/elementwise.cuh's ZipKernel).
// kiln-cuda-covers: Swiglu SwigluBackward
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "base/check.h"
#include "cuda/kernels.h"
#include "tests/cuda/kernel_test_util.h"

namespace kiln::testing {
namespace {

TEST(CudaSwiglu, ForwardAndBackwardMatchCpuAndTheUnfusedChain) {
  for (int64_t n : {1, 7, 1027}) {
    for (int64_t offset : {0, 1}) {  // offset 1: every pointer misaligned for float4
      const std::vector<float> gate = RandomFloats(n + offset, -8.0f, 8.0f, 1);
      const std::vector<float> up = RandomFloats(n + offset, -2.0f, 2.0f, 2);
      const std::vector<float> g = RandomFloats(n + offset, -1.0f, 1.0f, 3);
      const float* gp = gate.data() + offset;
      const float* upp = up.data() + offset;
      const float* ggp = g.data() + offset;
      std::vector<float> y(n + offset, NAN), gg(n, NAN), gu(n, NAN);
      cuda_sim::Swiglu(y.data() + offset, gp, upp, n, nullptr);
      cuda_sim::SwigluBackward(gg.data(), gu.data(), gp, upp, ggp, n, nullptr);
      y.erase(y.begin(), y.begin() + offset);
      std::vector<float> wy(n), wgg(n), wgu(n);
      RunCpuKernel(Op::kSwiglu, {{gp, {n}}, {upp, {n}}}, {{wy.data(), {n}}});
      RunCpuKernel(Op::kSwigluBackward, {{gp, {n}}, {upp, {n}}, {ggp, {n}}},
                   {{wgg.data(), {n}}, {wgu.data(), {n}}});
      EXPECT_TRUE(Near(y, wy, 4e-6f, 1e-6f)) << n;
      EXPECT_TRUE(Near(gg, wgg, 4e-6f, 1e-6f)) << n;
      EXPECT_TRUE(Near(gu, wgu, 4e-6f, 1e-6f)) << n;
      // The unfused CUDA chain: s = Silu(gate), y = s * up; grad_s = g * up (Mul's backward),
      // grad_gate = SiluBackward(grad_s), grad_up = g * s.
      std::vector<float> s(n), uy(n), gs(n), ugg(n), ugu(n);
      cuda_sim::Unary(Op::kSilu, s.data(), gp, n, 0.0f, nullptr);
      cuda_sim::Binary(Op::kMul, uy.data(), s.data(), upp, n, nullptr);
      cuda_sim::Binary(Op::kMul, gs.data(), ggp, upp, n, nullptr);
      cuda_sim::UnaryBackward(Op::kSilu, ugg.data(), gp, s.data(), gs.data(), n, nullptr);
      cuda_sim::Binary(Op::kMul, ugu.data(), ggp, s.data(), n, nullptr);
      EXPECT_TRUE(SameBits(y, uy)) << n;
      EXPECT_TRUE(SameBits(gg, ugg)) << n;
      EXPECT_TRUE(SameBits(gu, ugu)) << n;
    }
  }
}

TEST(CudaSwiglu, NegativeSizeIsRefused) {
  std::vector<float> x(4);
  EXPECT_THROW(cuda_sim::Swiglu(x.data(), x.data(), x.data(), -1, nullptr), Error);
  EXPECT_THROW(
      cuda_sim::SwigluBackward(x.data(), x.data(), x.data(), x.data(), x.data(), -1, nullptr),
      Error);
}

}  // namespace
}  // namespace kiln::testing
