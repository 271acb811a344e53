// The Linear and BiasGrad CUDA kernels (cuda/linear.cu) through the interpreter against the CPU
// kernels (cpu/linear.cc, cpu/bias_grad.cc). Both are bitwise: Linear is the CPU's chain (b_j,
// then one fma per k in order, which the tiled GEMM reproduces), BiasGrad the CPU's chunked row
// sums combined by the same pairwise tree. Also: a row of y does not depend on N (batch
// invariance), BiasGrad's bits do not depend on the interpreter's thread count or order, and the
// backward of Linear (Matmul for grad_x / grad_w, BiasGrad for grad_b) matches the CPU bitwise.
// kiln-cuda-covers: Linear BiasGrad
#include <gtest/gtest.h>

#include <vector>

#include "base/check.h"
#include "cuda/interp/runtime.h"
#include "cuda/kernels.h"
#include "tests/cuda/kernel_test_util.h"

namespace kiln::testing {
namespace {

struct Dims {
  int64_t n, m, k;
};
// Sizes off the 64 x 64 x 16 tile grid, a single row, K of one element.
const Dims kDims[] = {{1, 1, 1}, {5, 70, 33}, {130, 65, 17}, {64, 128, 80}};

TEST(CudaLinear, ForwardIsBitwiseTheCpu) {
  for (const Dims& d : kDims) {
    for (bool with_bias : {true, false}) {
      const std::vector<float> x = RandomFloats(d.n * d.k, -1.0f, 1.0f, 1);
      const std::vector<float> w = RandomFloats(d.m * d.k, -1.0f, 1.0f, 2);
      const std::vector<float> b = RandomFloats(d.m, -1.0f, 1.0f, 3);
      const float* bp = with_bias ? b.data() : nullptr;
      std::vector<float> y(d.n * d.m, NAN), want(d.n * d.m);
      cuda_sim::Linear(y.data(), x.data(), w.data(), bp, d.n, d.m, d.k, nullptr);
      RunCpuKernel(Op::kLinear, {{x.data(), {d.n, d.k}}, {w.data(), {d.m, d.k}}, {bp, {d.m}}},
                   {{want.data(), {d.n, d.m}}});
      EXPECT_TRUE(SameBits(y, want)) << d.n << "x" << d.m << "x" << d.k << " bias " << with_bias;
    }
  }
}

TEST(CudaLinear, RowsDoNotDependOnTheBatch) {
  const Dims d{70, 40, 24};
  const std::vector<float> x = RandomFloats(d.n * d.k, -1.0f, 1.0f, 4);
  const std::vector<float> w = RandomFloats(d.m * d.k, -1.0f, 1.0f, 5);
  const std::vector<float> b = RandomFloats(d.m, -1.0f, 1.0f, 6);
  std::vector<float> all(d.n * d.m), one(d.m);
  cuda_sim::Linear(all.data(), x.data(), w.data(), b.data(), d.n, d.m, d.k, nullptr);
  const int64_t row = 67;
  cuda_sim::Linear(one.data(), x.data() + row * d.k, w.data(), b.data(), 1, d.m, d.k, nullptr);
  EXPECT_TRUE(
      SameBits(one, std::vector<float>(all.begin() + row * d.m, all.begin() + (row + 1) * d.m)));
}

TEST(CudaLinear, BiasGradIsBitwiseTheCpu) {
  // Row counts around the 64-row chunks and their tree (1, 3 and 5 chunks, an uneven split).
  for (int64_t n : {0, 1, 64, 130, 300}) {
    const int64_t m = 37;
    const std::vector<float> g = RandomFloats(n * m, -1.0f, 1.0f, 7);
    std::vector<float> gb(m, NAN), want(m);
    cuda_sim::BiasGrad(gb.data(), g.data(), n, m, nullptr);
    RunCpuKernel(Op::kBiasGrad, {{g.data(), {n, m}}}, {{want.data(), {m}}});
    EXPECT_TRUE(SameBits(gb, want)) << n;
  }
}

TEST(CudaLinear, BiasGradBitsDoNotDependOnThreadsOrOrder) {
  const int64_t n = 450, m = 300;
  const std::vector<float> g = RandomFloats(n * m, -1.0f, 1.0f, 8);
  std::vector<float> a(m), b(m), c(m);
  cuda_sim::BiasGrad(a.data(), g.data(), n, m, nullptr);
  cuda_sim::SetSimThreads(1);
  cuda_sim::BiasGrad(b.data(), g.data(), n, m, nullptr);
  cuda_sim::SetSimThreads(0);
  const bool reverse = cuda_sim::ReverseMode();
  cuda_sim::SetReverseMode(!reverse);
  cuda_sim::BiasGrad(c.data(), g.data(), n, m, nullptr);
  cuda_sim::SetReverseMode(reverse);
  EXPECT_TRUE(SameBits(a, b));
  EXPECT_TRUE(SameBits(a, c));
}

TEST(CudaLinear, BackwardThroughMatmulAndBiasGradIsBitwiseTheCpu) {
  // ops/linear.cc's backward: grad_x = g W (Matmul), grad_w = g^T x (Matmul), grad_b = BiasGrad(g).
  const Dims d{50, 30, 20};
  const std::vector<float> x = RandomFloats(d.n * d.k, -1.0f, 1.0f, 9);
  const std::vector<float> w = RandomFloats(d.m * d.k, -1.0f, 1.0f, 10);
  const std::vector<float> g = RandomFloats(d.n * d.m, -1.0f, 1.0f, 11);
  std::vector<float> gx(d.n * d.k), gw(d.m * d.k), wgx(gx.size()), wgw(gw.size());
  cuda_sim::Matmul(gx.data(), g.data(), w.data(), d.n, d.k, d.m, false, false, nullptr);
  cuda_sim::Matmul(gw.data(), g.data(), x.data(), d.m, d.k, d.n, true, false, nullptr);
  RunCpuKernel(Op::kMatmul, {{g.data(), {d.n, d.m}}, {w.data(), {d.m, d.k}}},
               {{wgx.data(), {d.n, d.k}}}, {0, 0, 0});
  RunCpuKernel(Op::kMatmul, {{g.data(), {d.n, d.m}}, {x.data(), {d.n, d.k}}},
               {{wgw.data(), {d.m, d.k}}}, {1, 0, 0});
  EXPECT_TRUE(SameBits(gx, wgx));
  EXPECT_TRUE(SameBits(gw, wgw));
}

TEST(CudaLinear, NegativeSizesAreRefused) {
  std::vector<float> x(4);
  EXPECT_THROW(cuda_sim::Linear(x.data(), x.data(), x.data(), nullptr, -1, 1, 1, nullptr), Error);
  EXPECT_THROW(cuda_sim::BiasGrad(x.data(), x.data(), 1, -2, nullptr), Error);
}

}  // namespace
}  // namespace kiln::testing
