// The fused causal attention forward (cuda/attention.cu) through the interpreter against the CPU
// kernel (cpu/attention.h), each test for both versions (V1 cuda/attention.cu, V2
// cuda/attention_v2.cu): multi-head, grouped-query, packed documents, HS not a multiple of 32;
// and bitwise batch invariance: the last query decoded alone against the KV cache (Tq = 1) gives
// the bits of the full pass, and a sequence's rows do not change with the batch size. V2's own
// tests (bitwise V1, tile edges, document groups) are in attention_v2_kernel_test.cc.
// kiln-cuda-covers: Attention
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "base/check.h"
#include "cpu/attention.h"
#include "cuda/kernels.h"
#include "tests/cuda/kernel_test_util.h"

namespace kiln::testing {
namespace {

constexpr int kVersions[] = {1, 2};

struct Dims {
  int64_t b, nh, nkv, t, hs;
  bool docs;
};

// The CPU forward on contiguous (B, H, T, HS) tensors.
void CpuAttention(const Dims& d, int64_t tq, const float* q, const float* k, const float* v,
                  const int32_t* doc, float* out, float* lse) {
  cpu::AttentionParams p;
  p.b = d.b;
  p.nh = d.nh;
  p.nkv = d.nkv;
  p.tq = tq;
  p.tk = d.t;
  p.hs = d.hs;
  p.scale = 1.0 / std::sqrt(static_cast<double>(d.hs));
  p.q = q;
  p.q_sb = d.nh * tq * d.hs;
  p.q_sh = tq * d.hs;
  p.q_st = d.hs;
  p.k = k;
  p.v = v;
  p.k_sb = p.v_sb = d.nkv * d.t * d.hs;
  p.k_sh = p.v_sh = d.t * d.hs;
  p.k_st = p.v_st = d.hs;
  p.out = out;
  p.out_sb = p.q_sb;
  p.out_sh = p.q_sh;
  p.out_st = p.q_st;
  p.lse = lse;
  p.doc = doc;
  p.doc_sb = d.t;
  cpu::AttentionForward(p);
}

TEST(CudaAttention, ForwardMatchesCpu) {
  for (int version : kVersions) {
    ScopedKernelVersion use(cuda_versions::KernelOp::kAttention, version);
    SCOPED_TRACE("attention V" + std::to_string(version));
    const Dims cases[] = {{1, 1, 1, 1, 8, false},
                          {2, 4, 2, 37, 20, false},
                          {1, 2, 2, 70, 64, true},
                          {2, 3, 1, 33, 40, true}};
    for (const Dims& d : cases) {
      const std::vector<float> q = RandomFloats(d.b * d.nh * d.t * d.hs, -1.0f, 1.0f, 1);
      const std::vector<float> k = RandomFloats(d.b * d.nkv * d.t * d.hs, -1.0f, 1.0f, 2);
      const std::vector<float> v = RandomFloats(d.b * d.nkv * d.t * d.hs, -1.0f, 1.0f, 3);
      std::vector<int32_t> doc(d.b * d.t);
      for (int64_t i = 0; i < d.b * d.t; ++i) doc[i] = static_cast<int32_t>((i % d.t) / 9 % 2);
      const int32_t* dp = d.docs ? doc.data() : nullptr;
      std::vector<float> out(q.size()), lse(d.b * d.nh * d.t), wout(q.size()), wlse(lse.size());
      const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d.hs)));
      cuda_sim::Attention(out.data(), lse.data(), q.data(), k.data(), v.data(), dp, d.b, d.nh,
                          d.nkv, d.t, d.t, d.hs, scale, nullptr);
      CpuAttention(d, d.t, q.data(), k.data(), v.data(), dp, wout.data(), wlse.data());
      EXPECT_TRUE(Near(out, wout, 2e-5f, 1e-2f)) << d.t << " " << d.hs;
      EXPECT_TRUE(Near(lse, wlse, 2e-6f)) << d.t << " " << d.hs;
    }
  }
}

TEST(CudaAttention, DecodingAQueryAloneGivesTheFullPassBits) {
  for (int version : kVersions) {
    ScopedKernelVersion use(cuda_versions::KernelOp::kAttention, version);
    SCOPED_TRACE("attention V" + std::to_string(version));
    const Dims d{2, 2, 1, 50, 24, true};
    const std::vector<float> q = RandomFloats(d.b * d.nh * d.t * d.hs, -1.0f, 1.0f, 4);
    const std::vector<float> k = RandomFloats(d.b * d.nkv * d.t * d.hs, -1.0f, 1.0f, 5);
    const std::vector<float> v = RandomFloats(d.b * d.nkv * d.t * d.hs, -1.0f, 1.0f, 6);
    std::vector<int32_t> doc(d.b * d.t);
    for (int64_t i = 0; i < d.b * d.t; ++i) doc[i] = static_cast<int32_t>((i % d.t) / 20);
    const float scale = 0.2f;
    std::vector<float> out(q.size()), lse(d.b * d.nh * d.t);
    cuda_sim::Attention(out.data(), lse.data(), q.data(), k.data(), v.data(), doc.data(), d.b, d.nh,
                        d.nkv, d.t, d.t, d.hs, scale, nullptr);
    // The last query of every (b, h), alone (Tq = 1) against all keys.
    std::vector<float> q1(d.b * d.nh * d.hs), o1(q1.size()), l1(d.b * d.nh);
    for (int64_t bh = 0; bh < d.b * d.nh; ++bh)
      for (int64_t x = 0; x < d.hs; ++x) q1[bh * d.hs + x] = q[(bh * d.t + d.t - 1) * d.hs + x];
    cuda_sim::Attention(o1.data(), l1.data(), q1.data(), k.data(), v.data(), doc.data(), d.b, d.nh,
                        d.nkv, 1, d.t, d.hs, scale, nullptr);
    for (int64_t bh = 0; bh < d.b * d.nh; ++bh) {
      const auto row = out.begin() + (bh * d.t + d.t - 1) * d.hs;
      EXPECT_TRUE(SameBits(std::vector<float>(o1.begin() + bh * d.hs, o1.begin() + (bh + 1) * d.hs),
                           std::vector<float>(row, row + d.hs)))
          << bh;
      EXPECT_TRUE(SameBits({l1[bh]}, {lse[bh * d.t + d.t - 1]})) << bh;
    }
    // Batch 0 alone gives the rows it has inside the batch of 2.
    std::vector<float> ob(q.size() / 2), lb(lse.size() / 2);
    cuda_sim::Attention(ob.data(), lb.data(), q.data(), k.data(), v.data(), doc.data(), 1, d.nh,
                        d.nkv, d.t, d.t, d.hs, scale, nullptr);
    EXPECT_TRUE(SameBits(ob, std::vector<float>(out.begin(), out.begin() + ob.size())));
  }
}

TEST(CudaAttention, BadShapesAreRefused) {
  for (int version : kVersions) {
    ScopedKernelVersion use(cuda_versions::KernelOp::kAttention, version);
    SCOPED_TRACE("attention V" + std::to_string(version));
    std::vector<float> x(600);
    EXPECT_THROW(cuda_sim::Attention(x.data(), nullptr, x.data(), x.data(), x.data(), nullptr, 1, 3,
                                     2, 1, 1, 8, 1.0f, nullptr),
                 Error);
    EXPECT_THROW(cuda_sim::Attention(x.data(), nullptr, x.data(), x.data(), x.data(), nullptr, 1, 1,
                                     1, 2, 1, 8, 1.0f, nullptr),
                 Error);
    EXPECT_THROW(cuda_sim::Attention(x.data(), nullptr, x.data(), x.data(), x.data(), nullptr, 1, 1,
                                     1, 1, 1, 257, 1.0f, nullptr),
                 Error);
  }
}

}  // namespace
}  // namespace kiln::testing
