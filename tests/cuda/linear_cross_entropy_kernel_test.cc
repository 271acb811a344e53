// The fused LM head + cross-entropy CUDA kernels (cuda/linear_cross_entropy.cu) through the
// interpreter, with the CPU op's tiling contract (rb rows x vc vocabulary entries in a workspace):
//   - against the CPU kernel for several tilings, label smoothing and ignored targets: to rounding
//     (expf vs kmath's exp, CUDA's block reduction order vs the CPU's 16 lanes);
//   - bitwise against the unfused CUDA path: with one vocabulary chunk the loss / lse are
//     CrossEntropy(Matmul(h, W^T)), and for every tiling the gradients are CrossEntropyBackward
//     followed by the two Matmuls (the GEMMs continue one fmaf chain over k across tiles);
//   - a row's loss does not depend on rb, and the bits not on the interpreter's order or threads.
// kiln-cuda-covers: LinearCrossEntropy LinearCrossEntropyBackward
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "base/check.h"
#include "cuda/interp/runtime.h"
#include "cuda/kernels.h"
#include "tests/cuda/kernel_test_util.h"

namespace kiln::testing {
namespace {

constexpr int64_t kIgnore = -100;

struct Problem {
  int64_t n, c, v;
  std::vector<float> h, w, grad_loss;
  std::vector<int64_t> targets;
};

Problem MakeProblem(int64_t n, int64_t c, int64_t v, uint32_t seed) {
  Problem p{n,
            c,
            v,
            RandomFloats(n * c, -1.0f, 1.0f, seed),
            RandomFloats(v * c, -1.0f, 1.0f, seed + 1),
            RandomFloats(n, 0.5f, 1.5f, seed + 2),
            std::vector<int64_t>(n)};
  for (int64_t i = 0; i < n; ++i) p.targets[i] = i % 5 == 3 ? kIgnore : (i * 7 + 3) % v;
  return p;
}

struct Out {
  std::vector<float> loss, lse, gh, gw;
};

Out Cuda(const Problem& p, int64_t rb, int64_t vc, float ls) {
  Out o{std::vector<float>(p.n, NAN), std::vector<float>(p.n, NAN),
        std::vector<float>(p.n * p.c, NAN), std::vector<float>(p.v * p.c, NAN)};
  std::vector<float> work(rb * vc + 4 * rb, NAN);
  cuda_sim::LinearCrossEntropy(o.loss.data(), o.lse.data(), work.data(), p.h.data(), p.w.data(),
                               p.targets.data(), p.n, p.c, p.v, kIgnore, ls, rb, vc, nullptr);
  std::fill(work.begin(), work.end(), NAN);
  cuda_sim::LinearCrossEntropyBackward(
      o.gh.data(), o.gw.data(), work.data(), p.h.data(), p.w.data(), p.targets.data(), o.lse.data(),
      p.grad_loss.data(), p.n, p.c, p.v, kIgnore, ls, rb, vc, nullptr);
  return o;
}

Out Cpu(const Problem& p, int64_t rb, int64_t vc, float ls) {
  Out o{std::vector<float>(p.n), std::vector<float>(p.n), std::vector<float>(p.n * p.c),
        std::vector<float>(p.v * p.c)};
  std::vector<float> work(rb * vc + 4 * rb);
  const CpuArray h{p.h.data(), {p.n, p.c}}, w{p.w.data(), {p.v, p.c}};
  const CpuArray t{p.targets.data(), {p.n}, DType::kI64};
  RunCpuKernel(Op::kLinearCrossEntropy, {h, w, t},
               {{o.loss.data(), {p.n}},
                {o.lse.data(), {p.n}},
                {work.data(), {static_cast<int64_t>(work.size())}}},
               {kIgnore, rb, vc}, {ls});
  RunCpuKernel(Op::kLinearCrossEntropyBackward,
               {h, w, t, {o.lse.data(), {p.n}}, {p.grad_loss.data(), {p.n}}},
               {{o.gh.data(), {p.n, p.c}}, {o.gw.data(), {p.v, p.c}}, {work.data(), {rb * vc}}},
               {kIgnore, rb, vc}, {ls});
  return o;
}

TEST(CudaLinearCrossEntropy, MatchesCpu) {
  const Problem p = MakeProblem(13, 20, 50, 1);
  struct Tiling {
    int64_t rb, vc;
  };
  for (const Tiling tl : {Tiling{13, 50}, Tiling{4, 16}, Tiling{5, 7}, Tiling{1, 49}}) {
    for (float ls : {0.0f, 0.1f}) {
      SCOPED_TRACE(::testing::Message() << "rb " << tl.rb << " vc " << tl.vc << " ls " << ls);
      const Out got = Cuda(p, tl.rb, tl.vc, ls), want = Cpu(p, tl.rb, tl.vc, ls);
      EXPECT_TRUE(Near(got.loss, want.loss, 2e-6f, 1.0f));
      EXPECT_TRUE(Near(got.lse, want.lse, 2e-6f, 1.0f));
      EXPECT_TRUE(Near(got.gh, want.gh, 1e-5f, 0.1f));
      EXPECT_TRUE(Near(got.gw, want.gw, 1e-5f, 0.1f));
      for (int64_t i = 3; i < p.n; i += 5) EXPECT_EQ(got.loss[i], 0.0f) << "ignored row " << i;
    }
  }
}

TEST(CudaLinearCrossEntropy, BitwiseTheUnfusedCudaPath) {
  const Problem p = MakeProblem(11, 24, 40, 2);
  for (float ls : {0.0f, 0.2f}) {
    // Unfused: logits = Matmul(h, W^T), CrossEntropy, CrossEntropyBackward, two Matmuls.
    std::vector<float> logits(p.n * p.v), loss(p.n), lse(p.n), d(p.n * p.v), gh(p.n * p.c),
        gw(p.v * p.c);
    cuda_sim::Matmul(logits.data(), p.h.data(), p.w.data(), p.n, p.v, p.c, false, true, nullptr);
    cuda_sim::CrossEntropy(loss.data(), lse.data(), logits.data(), p.targets.data(), p.n, p.v,
                           kIgnore, ls, nullptr);
    cuda_sim::CrossEntropyBackward(d.data(), logits.data(), p.targets.data(), lse.data(),
                                   p.grad_loss.data(), p.n, p.v, kIgnore, ls, nullptr);
    cuda_sim::Matmul(gh.data(), d.data(), p.w.data(), p.n, p.c, p.v, false, false, nullptr);
    cuda_sim::Matmul(gw.data(), d.data(), p.h.data(), p.v, p.c, p.n, true, false, nullptr);
    // One vocabulary chunk: the same forward bits, whatever rb.
    for (int64_t rb : {int64_t{11}, int64_t{3}}) {
      const Out one = Cuda(p, rb, p.v, ls);
      EXPECT_TRUE(SameBits(one.loss, loss)) << rb;
      EXPECT_TRUE(SameBits(one.lse, lse)) << rb;
    }
    // Any tiling, given the same lse: the gradients' bits.
    for (int64_t rb : {int64_t{11}, int64_t{4}}) {
      for (int64_t vc : {int64_t{40}, int64_t{9}}) {
        std::vector<float> fgh(gh.size(), NAN), fgw(gw.size(), NAN), work(rb * vc, NAN);
        cuda_sim::LinearCrossEntropyBackward(
            fgh.data(), fgw.data(), work.data(), p.h.data(), p.w.data(), p.targets.data(),
            lse.data(), p.grad_loss.data(), p.n, p.c, p.v, kIgnore, ls, rb, vc, nullptr);
        EXPECT_TRUE(SameBits(fgh, gh)) << rb << " " << vc << " " << ls;
        EXPECT_TRUE(SameBits(fgw, gw)) << rb << " " << vc << " " << ls;
      }
    }
  }
}

TEST(CudaLinearCrossEntropy, BitsDoNotDependOnRowBlockOrderOrThreads) {
  const Problem p = MakeProblem(9, 16, 30, 3);
  const Out base = Cuda(p, 9, 8, 0.1f);
  const Out rows1 = Cuda(p, 1, 8, 0.1f);
  EXPECT_TRUE(SameBits(rows1.loss, base.loss));
  EXPECT_TRUE(SameBits(rows1.lse, base.lse));
  EXPECT_TRUE(SameBits(rows1.gh, base.gh));
  EXPECT_TRUE(SameBits(rows1.gw, base.gw));
  const bool reverse = cuda_sim::ReverseMode();
  cuda_sim::SetReverseMode(!reverse);
  cuda_sim::SetSimThreads(1);
  const Out flipped = Cuda(p, 9, 8, 0.1f);
  cuda_sim::SetSimThreads(0);
  cuda_sim::SetReverseMode(reverse);
  EXPECT_TRUE(SameBits(flipped.loss, base.loss));
  EXPECT_TRUE(SameBits(flipped.gh, base.gh));
  EXPECT_TRUE(SameBits(flipped.gw, base.gw));
}

TEST(CudaLinearCrossEntropy, EmptyBatchGivesZeroWeightGradient) {
  const int64_t c = 4, v = 6;
  std::vector<float> w = RandomFloats(v * c, -1.0f, 1.0f, 4), gw(v * c, NAN), work(6, NAN);
  cuda_sim::LinearCrossEntropyBackward(nullptr, gw.data(), work.data(), nullptr, w.data(), nullptr,
                                       nullptr, nullptr, 0, c, v, kIgnore, 0.0f, 1, v, nullptr);
  EXPECT_TRUE(SameBits(gw, std::vector<float>(v * c, 0.0f)));
}

TEST(CudaLinearCrossEntropy, BadTilingIsRefused) {
  std::vector<float> x(64);
  std::vector<int64_t> t(4);
  float* f = x.data();
  // vc > V.
  EXPECT_THROW(
      cuda_sim::LinearCrossEntropy(f, f, f, f, f, t.data(), 2, 2, 3, kIgnore, 0.0f, 1, 4, nullptr),
      Error);
  // rb == 0.
  EXPECT_THROW(cuda_sim::LinearCrossEntropyBackward(f, f, f, f, f, t.data(), f, f, 2, 2, 3, kIgnore,
                                                    0.0f, 0, 3, nullptr),
               Error);
}

}  // namespace
}  // namespace kiln::testing
