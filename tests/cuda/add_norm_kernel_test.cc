// The residual + norm CUDA kernels (cuda/add_norm.cu) through the interpreter: h = x + residual is
// bitwise the CPU's (one add), y / mean / rstd are bitwise the plain CUDA norm of h (the row math
// is shared, cuda/norm_rows.cuh), and against the CPU fused kernel they agree to rounding (the CPU
// sums a row with 16 partial sums, the CUDA block reduction in another fixed order). The backward
// of both rows is the plain norms' backward on h (tested in norm_kernel_test.cc).
// kiln-cuda-covers: AddLayerNorm AddRmsNorm
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "base/check.h"
#include "cuda/kernels.h"
#include "tests/cuda/kernel_test_util.h"

namespace kiln::testing {
namespace {

struct Shape {
  int64_t rows, c;
};
const Shape kShapes[] = {{1, 1}, {3, 33}, {17, 768}, {2, 1000}};

TEST(CudaAddNorm, AddLayerNormMatchesCpuAndIsThePlainNormOfTheSum) {
  for (const Shape& s : kShapes) {
    for (bool with_bias : {true, false}) {
      const int64_t r = s.rows, c = s.c;
      const std::vector<float> x = RandomFloats(r * c, -3.0f, 3.0f, 1);
      const std::vector<float> res = RandomFloats(r * c, -3.0f, 3.0f, 2);
      const std::vector<float> w = RandomFloats(c, 0.5f, 1.5f, 3);
      const std::vector<float> b = RandomFloats(c, -0.5f, 0.5f, 4);
      const float* bp = with_bias ? b.data() : nullptr;
      std::vector<float> y(r * c, NAN), h(r * c, NAN), mean(r, NAN), rstd(r, NAN);
      cuda_sim::AddLayerNorm(y.data(), h.data(), mean.data(), rstd.data(), x.data(), res.data(),
                             w.data(), bp, r, c, 1e-5f, nullptr);
      std::vector<float> wy(r * c), wh(r * c), wmean(r), wrstd(r);
      RunCpuKernel(
          Op::kAddLayerNorm, {{x.data(), {r, c}}, {res.data(), {r, c}}, {w.data(), {c}}, {bp, {c}}},
          {{wy.data(), {r, c}}, {wh.data(), {r, c}}, {wmean.data(), {r}}, {wrstd.data(), {r}}}, {},
          {1e-5});
      EXPECT_TRUE(SameBits(h, wh)) << r << "x" << c;
      EXPECT_TRUE(Near(y, wy, 2e-5f)) << r << "x" << c;
      EXPECT_TRUE(Near(mean, wmean, 1e-5f)) << r << "x" << c;
      EXPECT_TRUE(Near(rstd, wrstd, 2e-5f)) << r << "x" << c;
      std::vector<float> py(r * c), pmean(r), prstd(r);
      cuda_sim::LayerNorm(py.data(), pmean.data(), prstd.data(), h.data(), w.data(), bp, r, c,
                          1e-5f, nullptr);
      EXPECT_TRUE(SameBits(y, py)) << r << "x" << c;
      EXPECT_TRUE(SameBits(mean, pmean)) << r << "x" << c;
      EXPECT_TRUE(SameBits(rstd, prstd)) << r << "x" << c;
    }
  }
}

TEST(CudaAddNorm, AddRmsNormMatchesCpuAndIsThePlainNormOfTheSum) {
  for (const Shape& s : kShapes) {
    const int64_t r = s.rows, c = s.c;
    const std::vector<float> x = RandomFloats(r * c, -3.0f, 3.0f, 5);
    const std::vector<float> res = RandomFloats(r * c, -3.0f, 3.0f, 6);
    const std::vector<float> w = RandomFloats(c, 0.5f, 1.5f, 7);
    std::vector<float> y(r * c, NAN), h(r * c, NAN), rstd(r, NAN);
    cuda_sim::AddRmsNorm(y.data(), h.data(), rstd.data(), x.data(), res.data(), w.data(), r, c,
                         1e-6f, nullptr);
    std::vector<float> wy(r * c), wh(r * c), wrstd(r);
    RunCpuKernel(Op::kAddRmsNorm, {{x.data(), {r, c}}, {res.data(), {r, c}}, {w.data(), {c}}},
                 {{wy.data(), {r, c}}, {wh.data(), {r, c}}, {wrstd.data(), {r}}}, {}, {1e-6});
    EXPECT_TRUE(SameBits(h, wh)) << r << "x" << c;
    EXPECT_TRUE(Near(y, wy, 2e-5f)) << r << "x" << c;
    EXPECT_TRUE(Near(rstd, wrstd, 2e-5f)) << r << "x" << c;
    std::vector<float> py(r * c), prstd(r);
    cuda_sim::RmsNorm(py.data(), prstd.data(), h.data(), w.data(), r, c, 1e-6f, nullptr);
    EXPECT_TRUE(SameBits(y, py)) << r << "x" << c;
    EXPECT_TRUE(SameBits(rstd, prstd)) << r << "x" << c;
  }
}

TEST(CudaAddNorm, BadShapesAreRefused) {
  std::vector<float> x(4);
  float* p = x.data();
  EXPECT_THROW(cuda_sim::AddLayerNorm(p, p, p, p, p, p, p, nullptr, 1, 0, 1e-5f, nullptr), Error);
  EXPECT_THROW(cuda_sim::AddRmsNorm(p, p, p, p, p, p, -1, 4, 1e-5f, nullptr), Error);
}

}  // namespace
}  // namespace kiln::testing
