// The GEMM's V2 (cuda/matmul_v2.cuh: 128x128 tiles, 8x8 per thread, double-buffered 8-wide K
// slabs) through the interpreter against V1 (cuda/matmul.cuh), bitwise: both transposes on odd
// shapes (edge tiles in M, N and K, partial last slabs), the 16-byte load / store paths and their
// scalar fallbacks (unaligned pointers), every initial value of the chains (zero: Matmul, bias:
// Linear, accumulate: LinearCrossEntropyBackward's tiles). The CPU GEMM is the third party for
// Matmul; cuda_matmul_kernel_test runs its tests (CPU, batch invariance) for V2 too.
// kiln-cuda-covers: Matmul Linear
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cuda/kernels.h"
#include "tests/cuda/kernel_test_util.h"

namespace kiln::testing {
namespace {

using cuda_versions::KernelOp;

struct Mnk {
  int64_t m, n, k;
};

// c = op(a) op(b) with the given version; a, b, c may be offset from 16-byte alignment.
std::vector<float> RunMatmul(int version, const Mnk& s, bool ta, bool tb, int a_off, int b_off,
                             int c_off) {
  ScopedKernelVersion use(KernelOp::kMatmul, version);
  auto shifted = [](std::vector<float> x, int off) {  // the same values, `off` floats further on
    x.insert(x.begin(), off, 0.0f);
    return x;
  };
  const std::vector<float> a = shifted(RandomFloats(s.m * s.k, -1.0f, 1.0f, 51), a_off);
  const std::vector<float> b = shifted(RandomFloats(s.k * s.n, -1.0f, 1.0f, 52), b_off);
  std::vector<float> c(s.m * s.n + c_off, -7.0f);
  cuda_sim::Matmul(c.data() + c_off, a.data() + a_off, b.data() + b_off, s.m, s.n, s.k, ta, tb,
                   nullptr);
  return std::vector<float>(c.begin() + c_off, c.end());
}

TEST(CudaMatmulV2, BitwiseV1AndTheCpuOnOddShapes) {
  const Mnk shapes[] = {{1, 1, 1},    {5, 3, 2},    {128, 128, 8}, {129, 130, 17},
                        {37, 53, 71}, {3, 257, 20}, {200, 5, 9},   {64, 192, 40}};
  for (const Mnk& s : shapes) {
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      const std::vector<float> v2 = RunMatmul(2, s, ta, tb, 0, 0, 0);
      const std::vector<float> v1 = RunMatmul(1, s, ta, tb, 0, 0, 0);
      EXPECT_TRUE(SameBits(v2, v1))
          << s.m << "x" << s.n << "x" << s.k << " ta=" << ta << " tb=" << tb;
      const std::vector<float> a = RandomFloats(s.m * s.k, -1.0f, 1.0f, 51);
      const std::vector<float> b = RandomFloats(s.k * s.n, -1.0f, 1.0f, 52);
      std::vector<float> cpu(s.m * s.n);
      RunCpuKernel(
          Op::kMatmul,
          {{a.data(), ta ? std::vector<int64_t>{s.k, s.m} : std::vector<int64_t>{s.m, s.k}},
           {b.data(), tb ? std::vector<int64_t>{s.n, s.k} : std::vector<int64_t>{s.k, s.n}}},
          {{cpu.data(), {s.m, s.n}}}, {ta, tb, 0});
      EXPECT_TRUE(SameBits(v2, cpu))
          << s.m << "x" << s.n << "x" << s.k << " ta=" << ta << " tb=" << tb;
    }
  }
}

// Multiples of 4 in every dimension take the 16-byte paths when the pointers are aligned; a pointer
// one float off takes the scalar path of that operand. The bits never change.
TEST(CudaMatmulV2, VectorAndScalarPathsAgree) {
  const Mnk s{132, 136, 44};
  for (int t = 0; t < 4; ++t) {
    const bool ta = t & 1, tb = t & 2;
    const std::vector<float> want = RunMatmul(1, s, ta, tb, 0, 0, 0);
    EXPECT_TRUE(SameBits(RunMatmul(2, s, ta, tb, 0, 0, 0), want)) << "aligned, t=" << t;
    EXPECT_TRUE(SameBits(RunMatmul(2, s, ta, tb, 1, 0, 0), want)) << "a unaligned, t=" << t;
    EXPECT_TRUE(SameBits(RunMatmul(2, s, ta, tb, 0, 3, 0), want)) << "b unaligned, t=" << t;
    EXPECT_TRUE(SameBits(RunMatmul(2, s, ta, tb, 0, 0, 2), want)) << "c unaligned, t=" << t;
  }
}

// Linear: every chain starts from the bias (or 0 without one); K = 0 leaves just the start.
TEST(CudaMatmulV2, LinearBitwiseV1) {
  const Mnk shapes[] = {{33, 150, 27}, {130, 12, 64}, {4, 5, 0}};
  for (const Mnk& s : shapes) {
    const std::vector<float> x = RandomFloats(s.m * s.k, -1.0f, 1.0f, 71);
    const std::vector<float> w = RandomFloats(s.n * s.k, -1.0f, 1.0f, 72);
    const std::vector<float> bias = RandomFloats(s.n, -1.0f, 1.0f, 73);
    for (const float* bp : {bias.data(), static_cast<const float*>(nullptr)}) {
      std::vector<float> y[3];
      for (int version : {1, 2}) {
        ScopedKernelVersion use(KernelOp::kMatmul, version);
        y[version].assign(s.m * s.n, -7.0f);
        cuda_sim::Linear(y[version].data(), x.data(), w.data(), bp, s.m, s.n, s.k, nullptr);
      }
      EXPECT_TRUE(SameBits(y[2], y[1])) << s.m << "x" << s.n << "x" << s.k << " bias " << !!bp;
    }
  }
}

// LinearCrossEntropyBackward accumulates its gradients tile by tile with accumulate-mode GEMMs
// (each chain continues from c's value); with small tiles every GEMM init mode runs many times.
TEST(CudaMatmulV2, LinearCrossEntropyTilesBitwiseV1) {
  const int64_t n = 21, c = 24, v = 50, rb = 8, vc = 16;
  const std::vector<float> h = RandomFloats(n * c, -1.0f, 1.0f, 81);
  const std::vector<float> w = RandomFloats(v * c, -1.0f, 1.0f, 82);
  const std::vector<float> gl = RandomFloats(n, 0.5f, 1.5f, 83);
  std::vector<int64_t> targets(n);
  for (int64_t i = 0; i < n; ++i) targets[i] = (i * 7) % v;
  std::vector<float> loss[3], lse[3], gh[3], gw[3];
  for (int version : {1, 2}) {
    ScopedKernelVersion use(KernelOp::kMatmul, version);
    std::vector<float> work(rb * vc + 4 * rb);
    loss[version].resize(n);
    lse[version].resize(n);
    gh[version].resize(n * c);
    gw[version].resize(v * c);
    cuda_sim::LinearCrossEntropy(loss[version].data(), lse[version].data(), work.data(), h.data(),
                                 w.data(), targets.data(), n, c, v, -100, 0.1f, rb, vc, nullptr);
    cuda_sim::LinearCrossEntropyBackward(gh[version].data(), gw[version].data(), work.data(),
                                         h.data(), w.data(), targets.data(), lse[version].data(),
                                         gl.data(), n, c, v, -100, 0.1f, rb, vc, nullptr);
  }
  EXPECT_TRUE(SameBits(loss[2], loss[1]));
  EXPECT_TRUE(SameBits(lse[2], lse[1]));
  EXPECT_TRUE(SameBits(gh[2], gh[1]));
  EXPECT_TRUE(SameBits(gw[2], gw[1]));
}

}  // namespace
}  // namespace kiln::testing
