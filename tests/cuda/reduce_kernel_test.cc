// The row-reduction CUDA kernels (cuda/sum.cu, cuda/softmax.cu) through the interpreter: values
// against the CPU backend (a different but fixed summation order, so to rounding), and the
// exactness properties that must hold bitwise: a row's result does not depend on how many other
// rows are in the batch, and two runs give the same bits.
// kiln-cuda-covers: Sum Mean Softmax LogSoftmax Max MaxBackward Argmax Logsumexp
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "cuda/kernels.h"
#include "tests/cuda/kernel_test_util.h"

namespace kiln::testing {
namespace {

struct Shape {
  int64_t rows, n;
};
const Shape kShapes[] = {{1, 1}, {3, 31}, {5, 256}, {2, 1000}, {4, 4099}};

TEST(CudaReduce, SumAndMeanMatchCpu) {
  for (const Shape& s : kShapes) {
    const std::vector<float> x = RandomFloats(s.rows * s.n, -1.0f, 1.0f, 7);
    std::vector<float> got(s.rows), want(s.rows), gotm(s.rows), wantm(s.rows);
    cuda_sim::SumRows(got.data(), x.data(), s.rows, s.n, 1.0f, nullptr);
    cuda_sim::SumRows(gotm.data(), x.data(), s.rows, s.n, static_cast<float>(s.n), nullptr);
    RunCpuKernel(Op::kSum, {{x.data(), {s.rows, s.n}}},
                 {{want.data(), {s.rows}}});
    RunCpuKernel(Op::kMean, {{x.data(), {s.rows, s.n}}},
                 {{wantm.data(), {s.rows}}}, {}, {static_cast<double>(s.n)});
    // Rounding of a sum of n terms of size <= 1 in two orders: scale by n.
    EXPECT_TRUE(Near(got, want, 1e-6f, static_cast<float>(s.n))) << s.rows << "x" << s.n;
    EXPECT_TRUE(Near(gotm, wantm, 1e-6f, 1.0f)) << s.rows << "x" << s.n;
  }
}

TEST(CudaReduce, SoftmaxAndLogSoftmaxMatchCpu) {
  for (const Shape& s : kShapes) {
    const std::vector<float> x = RandomFloats(s.rows * s.n, -8.0f, 8.0f, 9);
    for (bool log : {false, true}) {
      std::vector<float> got(s.rows * s.n), want(s.rows * s.n);
      if (log) {
        cuda_sim::LogSoftmax(got.data(), x.data(), s.rows, s.n, nullptr);
      } else {
        cuda_sim::Softmax(got.data(), x.data(), s.rows, s.n, nullptr);
      }
      RunCpuKernel(log ? Op::kLogSoftmax : Op::kSoftmax,
                   {{x.data(), {s.rows, s.n}}},
                   {{want.data(), {s.rows, s.n}}});
      EXPECT_TRUE(Near(got, want, 2e-5f, log ? 1.0f : 1e-6f)) << log << " " << s.rows << "x" << s.n;
    }
  }
}

TEST(CudaReduce, AllMinusInfinityRowIsNan) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x = {-inf, -inf, -inf, 1.0f, 2.0f, 3.0f}, y(6);
  cuda_sim::Softmax(y.data(), x.data(), 2, 3, nullptr);
  EXPECT_TRUE(std::isnan(y[0]) && std::isnan(y[2]));
  EXPECT_FALSE(std::isnan(y[3]));
}

TEST(CudaReduce, RowsAreBatchInvariantAndRunsRepeat) {
  const int64_t rows = 9, n = 1500;
  const std::vector<float> x = RandomFloats(rows * n, -4.0f, 4.0f, 13);
  std::vector<float> sum(rows), sm(rows * n), sum2(rows), sm2(rows * n);
  cuda_sim::SumRows(sum.data(), x.data(), rows, n, 1.0f, nullptr);
  cuda_sim::Softmax(sm.data(), x.data(), rows, n, nullptr);
  cuda_sim::SumRows(sum2.data(), x.data(), rows, n, 1.0f, nullptr);
  cuda_sim::Softmax(sm2.data(), x.data(), rows, n, nullptr);
  EXPECT_TRUE(SameBits(sum, sum2));
  EXPECT_TRUE(SameBits(sm, sm2));
  for (int64_t r : {0, 4, 8}) {
    std::vector<float> one(1), row(n);
    cuda_sim::SumRows(one.data(), x.data() + r * n, 1, n, 1.0f, nullptr);
    cuda_sim::Softmax(row.data(), x.data() + r * n, 1, n, nullptr);
    EXPECT_TRUE(SameBits(one, {sum[r]})) << r;
    EXPECT_TRUE(SameBits(row, std::vector<float>(sm.begin() + r * n, sm.begin() + (r + 1) * n)))
        << r;
  }
}

}  // namespace
}  // namespace kiln::testing

namespace kiln::testing {
namespace {

TEST(CudaReduce, MaxArgmaxLogsumexpMatchCpu) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (const Shape& s : kShapes) {
    std::vector<float> x = RandomFloats(s.rows * s.n, -4.0f, 4.0f, 17);
    if (s.n > 300) {
      x[5] = nan;    // row 0: the first NaN wins Argmax
      x[290] = nan;
      x[s.n + 7] = 100.0f;  // row 1: a tie for the max, the first index wins
      x[s.n + 300] = 100.0f;
    }
    if (s.rows > 2) {
      for (int64_t j = 0; j < s.n; ++j) x[2 * s.n + j] = -inf;  // row 2: all -inf
    }
    const CpuArray xa{x.data(), {s.rows, s.n}};
    std::vector<float> mx(s.rows), wmx(s.rows), lse(s.rows), wlse(s.rows);
    std::vector<int64_t> am(s.rows), wam(s.rows);
    cuda_sim::MaxRows(mx.data(), x.data(), s.rows, s.n, nullptr);
    cuda_sim::Argmax(am.data(), x.data(), s.rows, s.n, nullptr);
    cuda_sim::Logsumexp(lse.data(), x.data(), s.rows, s.n, nullptr);
    RunCpuKernel(Op::kMax, {xa}, {{wmx.data(), {s.rows}}});
    RunCpuKernel(Op::kArgmax, {xa}, {{wam.data(), {s.rows}, DType::kI64}});
    RunCpuKernel(Op::kLogsumexp, {xa}, {{wlse.data(), {s.rows}}});
    EXPECT_TRUE(SameBits(mx, wmx)) << s.rows << "x" << s.n;
    EXPECT_EQ(am, wam) << s.rows << "x" << s.n;
    EXPECT_TRUE(Near(lse, wlse, 2e-6f)) << s.rows << "x" << s.n;
  }
}

TEST(CudaReduce, MaxBackwardSharesTiesAsTheCpu) {
  const int64_t rows = 4, n = 600;
  std::vector<float> x = RandomFloats(rows * n, -1.0f, 1.0f, 19);
  x[10] = x[500] = x[599] = 7.0f;  // row 0: three-way tie
  const std::vector<float> g = RandomFloats(rows, -1.0f, 1.0f, 20);
  std::vector<float> mx(rows), gx(rows * n), wgx(rows * n);
  cuda_sim::MaxRows(mx.data(), x.data(), rows, n, nullptr);
  cuda_sim::MaxBackward(gx.data(), x.data(), mx.data(), g.data(), rows, n, nullptr);
  RunCpuKernel(Op::kMaxBackward,
               {{x.data(), {rows, n}}, {mx.data(), {rows}}, {g.data(), {rows}}},
               {{wgx.data(), {rows, n}}});
  EXPECT_TRUE(SameBits(gx, wgx));
  EXPECT_EQ(gx[500], g[0] / 3.0f);
}

}  // namespace
}  // namespace kiln::testing
