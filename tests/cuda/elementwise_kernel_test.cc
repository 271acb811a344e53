// The elementwise CUDA kernels (cuda/unary.cu, cuda/binary.cu) run through the interpreter against
// the CPU backend's kernels, forward and backward: every unary row to a few ulp (CUDA's expf /
// tanhf vs kiln's kmath), the binary rows and MaximumBackward bitwise (one IEEE operation each).
// Sizes cover the float4 path, its scalar tail, and a misaligned start (scalar path only).
// kiln-cuda-covers: Neg Exp Log Sqrt Rsqrt Tanh Sigmoid Relu Gelu Silu AddScalar MulScalar
// kiln-cuda-covers: UnaryBackward Add Sub Mul Div Maximum MaximumBackward
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "base/check.h"
#include "cuda/kernels.h"
#include "tests/cuda/kernel_test_util.h"

namespace kiln::testing {
namespace {

const Op kUnaryRows[] = {Op::kNeg,  Op::kExp,     Op::kLog,  Op::kSqrt, Op::kRsqrt,     Op::kTanh,
                         Op::kSigmoid, Op::kRelu, Op::kGelu, Op::kSilu, Op::kAddScalar, Op::kMulScalar};

bool PositiveOnly(Op op) { return op == Op::kLog || op == Op::kSqrt || op == Op::kRsqrt; }

// Gelu's 1 + tanh(u) cancels for very negative x: CUDA's tanhf and kiln's differ by an ulp of 1
// there, so its error is absolute (~|x| * 2^-24), not relative to the tiny result.
float Scale(Op op, float relative) { return op == Op::kGelu ? 0.1f : relative; }

// Inputs at `offset` floats into the buffer: 1 makes every pointer misaligned for float4.
struct Case {
  int64_t n;
  int offset;
};
const Case kCases[] = {{1, 0}, {7, 0}, {1031, 0}, {4100, 1}};

TEST(CudaElementwise, UnaryForwardMatchesCpu) {
  for (Op op : kUnaryRows) {
    for (const Case& c : kCases) {
      std::vector<float> buf = RandomFloats(c.n + c.offset, PositiveOnly(op) ? 0.01f : -6.0f, 6.0f,
                                            static_cast<uint32_t>(c.n));
      const float* x = buf.data() + c.offset;
      std::vector<float> ybuf(c.n + c.offset), want(c.n);
      float* y = ybuf.data() + c.offset;
      const float s = op == Op::kAddScalar ? 0.75f : -1.5f;
      cuda_sim::Unary(op, y, x, c.n, s, nullptr);
      RunCpuKernel(op, {{x, {c.n}}}, {{want.data(), {c.n}}}, {}, {s});
      const std::vector<float> got(y, y + c.n);
      EXPECT_TRUE(Near(got, want, 4e-6f, Scale(op, 1e-6f))) << OpName(op) << " n=" << c.n;
    }
  }
}

TEST(CudaElementwise, UnaryBackwardMatchesCpu) {
  for (Op op : kUnaryRows) {
    if (op == Op::kAddScalar || op == Op::kMulScalar) continue;  // their backward is a plain op
    const int64_t n = 1027;
    const std::vector<float> x = RandomFloats(n, PositiveOnly(op) ? 0.05f : -5.0f, 5.0f, 3);
    const std::vector<float> g = RandomFloats(n, -2.0f, 2.0f, 4);
    std::vector<float> y(n), got(n), want(n);
    RunCpuKernel(op, {{x.data(), {n}}}, {{y.data(), {n}}}, {}, {0.0});
    cuda_sim::UnaryBackward(op, got.data(), x.data(), y.data(), g.data(), n, nullptr);
    RunCpuKernel(Op::kUnaryBackward,
                 {{x.data(), {n}}, {y.data(), {n}},
                  {g.data(), {n}}},
                 {{want.data(), {n}}}, {static_cast<int64_t>(op)});
    EXPECT_TRUE(Near(got, want, 2e-5f, Scale(op, 1e-5f))) << OpName(op);
  }
}

TEST(CudaElementwise, BinaryRowsAreBitwiseTheCpus) {
  const Op rows[] = {Op::kAdd, Op::kSub, Op::kMul, Op::kDiv, Op::kMaximum};
  for (Op op : rows) {
    for (const Case& c : kCases) {
      std::vector<float> a = RandomFloats(c.n + c.offset, -3.0f, 3.0f, 11);
      std::vector<float> b = RandomFloats(c.n + c.offset, -3.0f, 3.0f, 12);
      if (c.n > 8) {  // Maximum's rules: NaN on either side, ties
        a[c.offset + 1] = std::numeric_limits<float>::quiet_NaN();
        b[c.offset + 2] = std::numeric_limits<float>::quiet_NaN();
        b[c.offset + 3] = a[c.offset + 3];
      }
      std::vector<float> cbuf(c.n + c.offset), want(c.n);
      cuda_sim::Binary(op, cbuf.data() + c.offset, a.data() + c.offset, b.data() + c.offset, c.n,
                       nullptr);
      RunCpuKernel(op, {{a.data() + c.offset, {c.n}}, {b.data() + c.offset, {c.n}}},
                   {{want.data(), {c.n}}});
      const std::vector<float> got(cbuf.begin() + c.offset, cbuf.end());
      EXPECT_TRUE(SameBits(got, want)) << OpName(op) << " n=" << c.n;
    }
  }
}

TEST(CudaElementwise, MaximumBackwardIsBitwiseTheCpus) {
  const int64_t n = 517;
  std::vector<float> a = RandomFloats(n, -1.0f, 1.0f, 21), b = RandomFloats(n, -1.0f, 1.0f, 22);
  const std::vector<float> g = RandomFloats(n, -1.0f, 1.0f, 23);
  for (int i = 0; i < 40; ++i) b[i * 7] = a[i * 7];  // ties split the gradient
  a[5] = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> ga(n), gb(n), wa(n), wb(n);
  cuda_sim::MaximumBackward(ga.data(), gb.data(), a.data(), b.data(), g.data(), n, nullptr);
  RunCpuKernel(Op::kMaximumBackward,
               {{a.data(), {n}}, {b.data(), {n}}, {g.data(), {n}}},
               {{wa.data(), {n}}, {wb.data(), {n}}});
  EXPECT_TRUE(SameBits(ga, wa));
  EXPECT_TRUE(SameBits(gb, wb));
}

TEST(CudaElementwise, UnknownRowIsRefused) {
  std::vector<float> x(4), y(4);
  EXPECT_THROW(cuda_sim::Unary(Op::kMatmul, y.data(), x.data(), 4, 0.0f, nullptr), Error);
  EXPECT_THROW(cuda_sim::Binary(Op::kExp, y.data(), x.data(), x.data(), 4, nullptr), Error);
}

}  // namespace
}  // namespace kiln::testing
