// The normalization CUDA kernels (cuda/layer_norm.cu, cuda/rms_norm.cu) through the interpreter,
// forward and backward, against the CPU backend (different but fixed summation orders: agreement
// to rounding), plus the exactness properties that hold bitwise: the weight gradients are the
// same for any number of interpreter threads (no atomics), and a row's output does not depend on
// the other rows in the batch.
// kiln-cuda-covers: LayerNorm LayerNormBackward RmsNorm RmsNormBackward
#include <gtest/gtest.h>

#include <vector>

#include "cuda/interp/runtime.h"
#include "cuda/kernels.h"
#include "tests/cuda/kernel_test_util.h"

namespace kiln::testing {
namespace {

struct Shape {
  int64_t rows, c;
};
const Shape kShapes[] = {{1, 1}, {3, 33}, {17, 768}, {2, 1000}};

TEST(CudaNorm, LayerNormForwardAndBackwardMatchCpu) {
  for (const Shape& s : kShapes) {
    for (bool with_bias : {true, false}) {
      const int64_t r = s.rows, c = s.c;
      const std::vector<float> x = RandomFloats(r * c, -3.0f, 3.0f, 1);
      const std::vector<float> w = RandomFloats(c, 0.5f, 1.5f, 2);
      const std::vector<float> b = RandomFloats(c, -0.5f, 0.5f, 3);
      const std::vector<float> gy = RandomFloats(r * c, -1.0f, 1.0f, 4);
      const float* bp = with_bias ? b.data() : nullptr;
      std::vector<float> y(r * c), mean(r), rstd(r), wy(r * c), wmean(r), wrstd(r);
      cuda_sim::LayerNorm(y.data(), mean.data(), rstd.data(), x.data(), w.data(), bp, r, c, 1e-5f,
                          nullptr);
      RunCpuKernel(Op::kLayerNorm,
                   {{x.data(), {r, c}}, {w.data(), {c}},
                    {bp, {c}}},
                   {{wy.data(), {r, c}}, {wmean.data(), {r}}, {wrstd.data(), {r}}}, {}, {1e-5});
      EXPECT_TRUE(Near(y, wy, 2e-5f)) << r << "x" << c;
      EXPECT_TRUE(Near(mean, wmean, 1e-5f)) << r << "x" << c;
      EXPECT_TRUE(Near(rstd, wrstd, 2e-5f)) << r << "x" << c;

      std::vector<float> gx(r * c), gw(c), gb(c), wgx(r * c), wgw(c), wgb(c);
      cuda_sim::LayerNormBackward(gx.data(), gw.data(), gb.data(), x.data(), w.data(),
                                  wmean.data(), wrstd.data(), gy.data(), r, c, nullptr);
      RunCpuKernel(Op::kLayerNormBackward,
                   {{x.data(), {r, c}}, {w.data(), {c}},
                    {wmean.data(), {r}}, {wrstd.data(), {r}}, {gy.data(), {r, c}}},
                   {{wgx.data(), {r, c}}, {wgw.data(), {c}}, {wgb.data(), {c}}});
      EXPECT_TRUE(Near(gx, wgx, 5e-5f)) << r << "x" << c;
      EXPECT_TRUE(Near(gw, wgw, 1e-5f, static_cast<float>(r))) << r << "x" << c;
      EXPECT_TRUE(Near(gb, wgb, 1e-5f, static_cast<float>(r))) << r << "x" << c;
    }
  }
}

TEST(CudaNorm, RmsNormForwardAndBackwardMatchCpu) {
  for (const Shape& s : kShapes) {
    const int64_t r = s.rows, c = s.c;
    const std::vector<float> x = RandomFloats(r * c, -3.0f, 3.0f, 5);
    const std::vector<float> w = RandomFloats(c, 0.5f, 1.5f, 6);
    const std::vector<float> gy = RandomFloats(r * c, -1.0f, 1.0f, 7);
    std::vector<float> y(r * c), rstd(r), wy(r * c), wrstd(r);
    cuda_sim::RmsNorm(y.data(), rstd.data(), x.data(), w.data(), r, c, 1e-6f, nullptr);
    RunCpuKernel(Op::kRmsNorm,
                 {{x.data(), {r, c}}, {w.data(), {c}}},
                 {{wy.data(), {r, c}}, {wrstd.data(), {r}}}, {}, {1e-6});
    EXPECT_TRUE(Near(y, wy, 2e-5f)) << r << "x" << c;
    EXPECT_TRUE(Near(rstd, wrstd, 2e-5f)) << r << "x" << c;
    std::vector<float> gx(r * c), gw(c), wgx(r * c), wgw(c);
    cuda_sim::RmsNormBackward(gx.data(), gw.data(), x.data(), w.data(), wrstd.data(), gy.data(), r,
                              c, nullptr);
    RunCpuKernel(Op::kRmsNormBackward,
                 {{x.data(), {r, c}}, {w.data(), {c}},
                  {wrstd.data(), {r}}, {gy.data(), {r, c}}},
                 {{wgx.data(), {r, c}}, {wgw.data(), {c}}});
    EXPECT_TRUE(Near(gx, wgx, 5e-5f)) << r << "x" << c;
    EXPECT_TRUE(Near(gw, wgw, 1e-5f, static_cast<float>(r))) << r << "x" << c;
  }
}

TEST(CudaNorm, WeightGradientsIgnoreThreadCountAndRowsIgnoreTheBatch) {
  const int64_t r = 40, c = 300;
  const std::vector<float> x = RandomFloats(r * c, -2.0f, 2.0f, 8);
  const std::vector<float> w = RandomFloats(c, 0.5f, 1.5f, 9);
  const std::vector<float> gy = RandomFloats(r * c, -1.0f, 1.0f, 10);
  std::vector<float> y(r * c), mean(r), rstd(r);
  cuda_sim::LayerNorm(y.data(), mean.data(), rstd.data(), x.data(), w.data(), nullptr, r, c, 1e-5f,
                      nullptr);
  std::vector<float> gw1(c), gb1(c), gw4(c), gb4(c), rw1(c), rw4(c), rr(r);
  cuda_sim::SetSimThreads(1);
  cuda_sim::LayerNormBackward(nullptr, gw1.data(), gb1.data(), x.data(), w.data(), mean.data(),
                              rstd.data(), gy.data(), r, c, nullptr);
  cuda_sim::RmsNormBackward(nullptr, rw1.data(), x.data(), w.data(), rstd.data(), gy.data(), r, c,
                            nullptr);
  cuda_sim::SetSimThreads(4);
  cuda_sim::LayerNormBackward(nullptr, gw4.data(), gb4.data(), x.data(), w.data(), mean.data(),
                              rstd.data(), gy.data(), r, c, nullptr);
  cuda_sim::RmsNormBackward(nullptr, rw4.data(), x.data(), w.data(), rstd.data(), gy.data(), r, c,
                            nullptr);
  cuda_sim::SetSimThreads(0);
  EXPECT_TRUE(SameBits(gw1, gw4));
  EXPECT_TRUE(SameBits(gb1, gb4));
  EXPECT_TRUE(SameBits(rw1, rw4));
  // Row 7 alone gives the bits it has inside the batch of 40.
  std::vector<float> y1(c), m1(1), s1(1);
  cuda_sim::LayerNorm(y1.data(), m1.data(), s1.data(), x.data() + 7 * c, w.data(), nullptr, 1, c,
                      1e-5f, nullptr);
  EXPECT_TRUE(SameBits(y1, std::vector<float>(y.begin() + 7 * c, y.begin() + 8 * c)));
}

}  // namespace
}  // namespace kiln::testing
