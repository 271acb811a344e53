// The tiled CUDA matmul (cuda/matmul.cu) through the interpreter, each test for both GEMM versions
// (V1 cuda/matmul.cuh, V2 cuda/matmul_v2.cuh): bitwise equal to the CPU GEMM (both are one fmaf
// chain per element in k order) for shapes with edge tiles in every dim and both transposes, and
// batch invariant bitwise: a row computed alone (M = 1) or inside any M gives the same bits.
// The bf16-operand launchers (mixed precision: MatmulBf16, LinearBf16; V1's kernel) are bitwise the
// f32 kernels on the operands widened to f32.
// kiln-cuda-covers: Matmul
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "cuda/kernels.h"
#include "tensor/half.h"
#include "tests/cuda/kernel_test_util.h"

namespace kiln::testing {
namespace {

struct Mnk {
  int64_t m, n, k;
};
const Mnk kShapes[] = {{1, 1, 1}, {64, 64, 16}, {37, 53, 71}, {130, 7, 33}, {3, 129, 200}};
constexpr int kVersions[] = {1, 2};

TEST(CudaMatmul, BitwiseTheCpuGemm) {
  for (int version : kVersions) {
    ScopedKernelVersion use(cuda_versions::KernelOp::kMatmul, version);
    SCOPED_TRACE("matmul V" + std::to_string(version));
    for (const Mnk& s : kShapes) {
      for (int t = 0; t < 4; ++t) {
        const bool ta = t & 1, tb = t & 2;
        const std::vector<float> a = RandomFloats(s.m * s.k, -1.0f, 1.0f, 31);
        const std::vector<float> b = RandomFloats(s.k * s.n, -1.0f, 1.0f, 32);
        std::vector<float> got(s.m * s.n, -7.0f), want(s.m * s.n);
        cuda_sim::Matmul(got.data(), a.data(), b.data(), s.m, s.n, s.k, ta, tb, nullptr);
        const std::vector<int64_t> as =
            ta ? std::vector<int64_t>{s.k, s.m} : std::vector<int64_t>{s.m, s.k};
        const std::vector<int64_t> bs =
            tb ? std::vector<int64_t>{s.n, s.k} : std::vector<int64_t>{s.k, s.n};
        RunCpuKernel(Op::kMatmul, {{a.data(), as}, {b.data(), bs}}, {{want.data(), {s.m, s.n}}},
                     {ta, tb, 0});
        EXPECT_TRUE(SameBits(got, want))
            << s.m << "x" << s.n << "x" << s.k << " ta=" << ta << " tb=" << tb;
      }
    }
  }
}

TEST(CudaMatmul, RowsAreBatchInvariant) {
  for (int version : kVersions) {
    ScopedKernelVersion use(cuda_versions::KernelOp::kMatmul, version);
    SCOPED_TRACE("matmul V" + std::to_string(version));
    const int64_t m = 257, n = 70, k = 45;  // V1's 64-row and V2's 128-row tiles
    const std::vector<float> a = RandomFloats(m * k, -2.0f, 2.0f, 41);
    const std::vector<float> b = RandomFloats(k * n, -2.0f, 2.0f, 42);
    std::vector<float> full(m * n);
    cuda_sim::Matmul(full.data(), a.data(), b.data(), m, n, k, false, false, nullptr);
    for (int64_t r : {0, 1, 63, 64, 127, 128, 200, 256}) {
      for (int64_t mm : {int64_t{1}, m - r}) {  // the row alone, and as row 0 of a shorter batch
        std::vector<float> part(mm * n);
        cuda_sim::Matmul(part.data(), a.data() + r * k, b.data(), mm, n, k, false, false, nullptr);
        EXPECT_TRUE(SameBits(std::vector<float>(part.begin(), part.begin() + n),
                             std::vector<float>(full.begin() + r * n, full.begin() + (r + 1) * n)))
            << "row " << r << " in a batch of " << mm;
      }
    }
  }
}

// Rounds v to bf16: the bits, and the exact f32 values they stand for.
void ToBf16(const std::vector<float>& v, std::vector<uint16_t>* bits, std::vector<float>* wide) {
  bits->resize(v.size());
  wide->resize(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    (*bits)[i] = FloatToBf16Bits(v[i]);
    (*wide)[i] = Bf16BitsToFloat((*bits)[i]);
  }
}

TEST(CudaMatmul, Bf16OperandsAreTheF32KernelOnWidenedValues) {
  for (const Mnk& s : kShapes) {
    std::vector<uint16_t> a16, b16;
    std::vector<float> a, b;
    ToBf16(RandomFloats(s.m * s.k, -1.0f, 1.0f, 51), &a16, &a);
    ToBf16(RandomFloats(s.k * s.n, -1.0f, 1.0f, 52), &b16, &b);
    for (int t = 0; t < 4; ++t) {
      const bool ta = t & 1, tb = t & 2;
      std::vector<float> got(s.m * s.n, -7.0f), want(s.m * s.n);
      cuda_sim::MatmulBf16(got.data(), a16.data(), b16.data(), s.m, s.n, s.k, ta, tb, nullptr);
      cuda_sim::Matmul(want.data(), a.data(), b.data(), s.m, s.n, s.k, ta, tb, nullptr);
      EXPECT_TRUE(SameBits(got, want)) << s.m << "x" << s.n << "x" << s.k << " t=" << t;
    }
    // Linear: x (m, k), weight (n, k), bias (n).
    const std::vector<float> bias = RandomFloats(s.n, -1.0f, 1.0f, 53);
    std::vector<float> got(s.m * s.n, -7.0f), want(s.m * s.n);
    cuda_sim::LinearBf16(got.data(), a16.data(), b16.data(), bias.data(), s.m, s.n, s.k, nullptr);
    cuda_sim::Linear(want.data(), a.data(), b.data(), bias.data(), s.m, s.n, s.k, nullptr);
    EXPECT_TRUE(SameBits(got, want)) << "Linear " << s.m << "x" << s.n << "x" << s.k;
  }
}

TEST(CudaMatmul, EmptyKGivesZeros) {
  for (int version : kVersions) {
    ScopedKernelVersion use(cuda_versions::KernelOp::kMatmul, version);
    SCOPED_TRACE("matmul V" + std::to_string(version));
    std::vector<float> c(6, 5.0f);
    cuda_sim::Matmul(c.data(), nullptr, nullptr, 2, 3, 0, false, false, nullptr);
    for (float v : c) EXPECT_EQ(v, 0.0f);
  }
}

}  // namespace
}  // namespace kiln::testing
