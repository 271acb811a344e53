// The training-step CUDA kernels through the interpreter against the CPU backend: embedding and
// its deterministic backward (bitwise: the same token order), fused softmax-cross-entropy forward
// and backward with ignore_index and label smoothing (to rounding: CUDA's expf / logf), and the
// fused AdamW step (bitwise: the same operations in the same order).
// kiln-cuda-covers: Embedding EmbeddingBackward CrossEntropy CrossEntropyBackward AdamW
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "cuda/interp/runtime.h"
#include "cuda/kernels.h"
#include "tests/cuda/kernel_test_util.h"

namespace kiln::testing {
namespace {

TEST(CudaTraining, EmbeddingForwardAndBackwardAreBitwiseTheCpus) {
  const int64_t v = 50, c = 70, n = 333;
  const std::vector<float> w = RandomFloats(v * c, -1.0f, 1.0f, 1);
  const std::vector<float> g = RandomFloats(n * c, -1.0f, 1.0f, 2);
  std::vector<int64_t> ids(n);
  for (int64_t t = 0; t < n; ++t) ids[t] = (t * 37 + t / 5) % v;  // repeats, out of order
  std::vector<float> out(n * c), want(n * c), gw(v * c, 9.0f), wgw(v * c);
  cuda_sim::Embedding(out.data(), w.data(), ids.data(), n, c, nullptr);
  RunCpuKernel(Op::kEmbedding, {{w.data(), {v, c}}, {ids.data(), {n}, DType::kI64}},
               {{want.data(), {n, c}}});
  EXPECT_TRUE(SameBits(out, want));
  cuda_sim::EmbeddingBackward(gw.data(), g.data(), ids.data(), n, v, c, nullptr);
  RunCpuKernel(Op::kEmbeddingBackward, {{ids.data(), {n}, DType::kI64}, {g.data(), {n, c}}},
               {{wgw.data(), {v, c}}});
  EXPECT_TRUE(SameBits(gw, wgw));
}

TEST(CudaTraining, CrossEntropyForwardAndBackwardMatchCpu) {
  const int64_t n = 13, v = 1001;
  const std::vector<float> x = RandomFloats(n * v, -6.0f, 6.0f, 3);
  const std::vector<float> gl = RandomFloats(n, 0.1f, 1.0f, 4);
  std::vector<int64_t> t(n);
  for (int64_t i = 0; i < n; ++i) t[i] = (i * 97) % v;
  t[4] = -100;  // ignored
  for (float ls : {0.0f, 0.1f}) {
    std::vector<float> loss(n), lse(n), wloss(n), wlse(n);
    cuda_sim::CrossEntropy(loss.data(), lse.data(), x.data(), t.data(), n, v, -100, ls, nullptr);
    RunCpuKernel(Op::kCrossEntropy,
                 {{x.data(), {n, v}}, {t.data(), {n}, DType::kI64}},
                 {{wloss.data(), {n}}, {wlse.data(), {n}}}, {-100}, {ls});
    EXPECT_TRUE(Near(loss, wloss, 2e-5f)) << ls;
    EXPECT_TRUE(Near(lse, wlse, 2e-6f)) << ls;
    EXPECT_EQ(loss[4], 0.0f);
    std::vector<float> gx(n * v), wgx(n * v);
    cuda_sim::CrossEntropyBackward(gx.data(), x.data(), t.data(), wlse.data(), gl.data(), n, v,
                                   -100, ls, nullptr);
    RunCpuKernel(Op::kCrossEntropyBackward,
                 {{x.data(), {n, v}}, {t.data(), {n}, DType::kI64},
                  {wlse.data(), {n}}, {gl.data(), {n}}},
                 {{wgx.data(), {n, v}}}, {-100}, {ls});
    EXPECT_TRUE(Near(gx, wgx, 1e-5f, 1e-4f)) << ls;
  }
}

TEST(CudaTraining, AdamWStepIsBitwiseTheCpus) {
  const int64_t n = 1025;
  for (double wd : {0.0, 0.1}) {
    for (double b1 : {0.9, 0.3}) {  // both branches of PyTorch's lerp
      std::vector<float> p = RandomFloats(n, -1.0f, 1.0f, 5), m = RandomFloats(n, -0.1f, 0.1f, 6);
      std::vector<float> v = RandomFloats(n, 0.0f, 0.01f, 7);
      const std::vector<float> g = RandomFloats(n, -1.0f, 1.0f, 8);
      std::vector<float> cp = p, cm = m, cv = v;
      const double lr = 3e-4, b2 = 0.95, eps = 1e-8, step = 3;
      const double step_size = lr / (1.0 - std::pow(b1, step));
      const double bc2_sqrt = std::sqrt(1.0 - std::pow(b2, step));
      cuda_sim::AdamW(p.data(), m.data(), v.data(), g.data(), n, lr, b1, b2, eps, wd, step_size,
                      bc2_sqrt, nullptr);
      RunCpuKernel(Op::kAdamW, {{g.data(), {n}}},
                   {{cp.data(), {n}}, {cm.data(), {n}}, {cv.data(), {n}}}, {},
                   {lr, b1, b2, eps, wd, step_size, bc2_sqrt});
      EXPECT_TRUE(SameBits(p, cp)) << wd << " " << b1;
      EXPECT_TRUE(SameBits(m, cm)) << wd << " " << b1;
      EXPECT_TRUE(SameBits(v, cv)) << wd << " " << b1;
    }
  }
}

}  // namespace
}  // namespace kiln::testing
