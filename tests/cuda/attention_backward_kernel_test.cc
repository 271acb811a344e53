// The fused causal attention backward (cuda/attention_backward.cu) through the interpreter against
// the CPU kernel (cpu/attention.h AttentionBackward), on the CPU forward's out and lse so only the
// backward differs: multi-head, grouped-query (heads sharing a K / V head summed), a KV offset
// (Tq < Tk), packed documents, head sizes of every tile size (32, 16 and 8 rows) and not multiples
// of 32. Not bitwise: the CPU's dot products keep 16 partial sums and use kmath's exp, the CUDA
// kernels one fmaf chain (the forward's) and expf; the sums run over the same terms in the same
// order, so the difference is rounding (checked at 2e-5 relative to the gradient's magnitude).
// Determinism: the bits do not change with the interpreter's order (reverse blocks / warps /
// lanes), its thread count, or the batch (a sequence alone gives its rows of the batched pass).
// kiln-cuda-covers: AttentionBackward
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "base/check.h"
#include "cpu/attention.h"
#include "cuda/interp/runtime.h"
#include "cuda/kernels.h"
#include "tests/cuda/kernel_test_util.h"

namespace kiln::testing {
namespace {

struct Dims {
  int64_t b, nh, nkv, tq, tk, hs;
  bool docs;
};

struct Inputs {
  std::vector<float> q, k, v, dout, out, lse;
  std::vector<int32_t> doc;
  float scale;
  const int32_t* Doc(const Dims& d) const { return d.docs ? doc.data() : nullptr; }
};

struct Grads {
  std::vector<float> dq, dk, dv;
};

// Random q, k, v, dout, document ids in runs of 9 / 11 / 7 keys, and the CPU forward's out, lse.
Inputs MakeInputs(const Dims& d, uint32_t seed) {
  Inputs in;
  in.q = RandomFloats(d.b * d.nh * d.tq * d.hs, -1.0f, 1.0f, seed);
  in.k = RandomFloats(d.b * d.nkv * d.tk * d.hs, -1.0f, 1.0f, seed + 1);
  in.v = RandomFloats(d.b * d.nkv * d.tk * d.hs, -1.0f, 1.0f, seed + 2);
  in.dout = RandomFloats(in.q.size(), -1.0f, 1.0f, seed + 3);
  in.doc.resize(d.b * d.tk);
  for (int64_t bb = 0; bb < d.b; ++bb) {
    const int64_t run = 7 + 2 * (bb % 3);
    for (int64_t t = 0; t < d.tk; ++t) in.doc[bb * d.tk + t] = static_cast<int32_t>(t / run % 2);
  }
  in.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d.hs)));
  in.out.resize(in.q.size());
  in.lse.resize(d.b * d.nh * d.tq);
  cpu::AttentionParams p;
  p.b = d.b, p.nh = d.nh, p.nkv = d.nkv, p.tq = d.tq, p.tk = d.tk, p.hs = d.hs;
  p.scale = in.scale;
  p.q = in.q.data(), p.q_sb = d.nh * d.tq * d.hs, p.q_sh = d.tq * d.hs, p.q_st = d.hs;
  p.k = in.k.data(), p.v = in.v.data();
  p.k_sb = p.v_sb = d.nkv * d.tk * d.hs, p.k_sh = p.v_sh = d.tk * d.hs, p.k_st = p.v_st = d.hs;
  p.out = in.out.data(), p.out_sb = p.q_sb, p.out_sh = p.q_sh, p.out_st = p.q_st;
  p.lse = in.lse.data();
  p.doc = in.Doc(d), p.doc_sb = d.tk;
  cpu::AttentionForward(p);
  return in;
}

Grads CpuBackward(const Dims& d, const Inputs& in) {
  Grads g{std::vector<float>(in.q.size()), std::vector<float>(in.k.size()),
          std::vector<float>(in.v.size())};
  cpu::AttentionBackwardParams p;
  p.b = d.b, p.nh = d.nh, p.nkv = d.nkv, p.tq = d.tq, p.tk = d.tk, p.hs = d.hs;
  p.scale = in.scale;
  const int64_t q_sb = d.nh * d.tq * d.hs, q_sh = d.tq * d.hs;
  const int64_t k_sb = d.nkv * d.tk * d.hs, k_sh = d.tk * d.hs;
  p.q = in.q.data(), p.q_sb = q_sb, p.q_sh = q_sh, p.q_st = d.hs;
  p.out = in.out.data(), p.out_sb = q_sb, p.out_sh = q_sh, p.out_st = d.hs;
  p.dout = in.dout.data(), p.dout_sb = q_sb, p.dout_sh = q_sh, p.dout_st = d.hs;
  p.dq = g.dq.data(), p.dq_sb = q_sb, p.dq_sh = q_sh, p.dq_st = d.hs;
  p.k = in.k.data(), p.k_sb = k_sb, p.k_sh = k_sh, p.k_st = d.hs;
  p.v = in.v.data(), p.v_sb = k_sb, p.v_sh = k_sh, p.v_st = d.hs;
  p.dk = g.dk.data(), p.dk_sb = k_sb, p.dk_sh = k_sh, p.dk_st = d.hs;
  p.dv = g.dv.data(), p.dv_sb = k_sb, p.dv_sh = k_sh, p.dv_st = d.hs;
  p.lse = in.lse.data();
  p.doc = in.Doc(d), p.doc_sb = d.tk;
  cpu::AttentionBackward(p);
  return g;
}

Grads CudaBackward(const Dims& d, const Inputs& in) {
  // NaN-filled outputs: every element must be written.
  Grads g{std::vector<float>(in.q.size(), NAN), std::vector<float>(in.k.size(), NAN),
          std::vector<float>(in.v.size(), NAN)};
  cuda_sim::AttentionBackward(g.dq.data(), g.dk.data(), g.dv.data(), in.q.data(), in.k.data(),
                              in.v.data(), in.out.data(), in.lse.data(), in.dout.data(), in.Doc(d),
                              d.b, d.nh, d.nkv, d.tq, d.tk, d.hs, in.scale, nullptr);
  return g;
}

float MaxAbs(const std::vector<float>& x) {
  float m = 0.0f;
  for (float v : x) m = std::max(m, std::fabs(v));
  return m;
}

void ExpectSameBits(const Grads& a, const Grads& b) {
  EXPECT_TRUE(SameBits(a.dq, b.dq));
  EXPECT_TRUE(SameBits(a.dk, b.dk));
  EXPECT_TRUE(SameBits(a.dv, b.dv));
}

TEST(CudaAttentionBackward, MatchesCpu) {
  const Dims cases[] = {
      {1, 1, 1, 1, 1, 8, false},     // one query, one key
      {2, 4, 2, 37, 37, 20, false},  // GQA (2 query heads per K / V head), HS % 32 != 0
      {1, 2, 2, 70, 70, 64, true},   // documents, 32-row tiles, several key tiles
      {2, 3, 1, 33, 33, 40, true},   // 3 heads share one K / V head, documents
      {1, 2, 1, 19, 45, 72, false},  // KV offset (Tq < Tk), 16-row tiles
      {2, 2, 2, 12, 30, 72, true},   // KV offset with documents: keys nobody sees get 0
      {1, 2, 1, 21, 21, 130, true},  // 8-row tiles
  };
  for (const Dims& d : cases) {
    SCOPED_TRACE(::testing::Message()
                 << "B " << d.b << " NH " << d.nh << " NKV " << d.nkv << " Tq " << d.tq << " Tk "
                 << d.tk << " HS " << d.hs << (d.docs ? " docs" : ""));
    const Inputs in = MakeInputs(d, 11);
    const Grads want = CpuBackward(d, in);
    const Grads got = CudaBackward(d, in);
    EXPECT_TRUE(Near(got.dq, want.dq, 2e-5f, MaxAbs(want.dq)));
    EXPECT_TRUE(Near(got.dk, want.dk, 2e-5f, MaxAbs(want.dk)));
    EXPECT_TRUE(Near(got.dv, want.dv, 2e-5f, MaxAbs(want.dv)));
  }
}

TEST(CudaAttentionBackward, KeysNoQuerySeesHaveZeroGradient) {
  // Tq = 4 of Tk = 20 with documents of 7 keys: keys 0..13 are in documents no query is in.
  const Dims d{1, 1, 1, 4, 20, 16, true};
  const Inputs in = MakeInputs(d, 3);
  const Grads got = CudaBackward(d, in);
  for (int64_t x = 0; x < 14 * d.hs; ++x) {
    ASSERT_EQ(got.dk[x], 0.0f) << x;
    ASSERT_EQ(got.dv[x], 0.0f) << x;
  }
  EXPECT_NE(MaxAbs(got.dk), 0.0f);
}

TEST(CudaAttentionBackward, BitsIndependentOfOrderThreadsAndBatch) {
  const Dims d{2, 4, 2, 40, 40, 24, true};
  const Inputs in = MakeInputs(d, 5);
  const bool reverse = cuda_sim::ReverseMode();
  const Grads base = CudaBackward(d, in);
  cuda_sim::SetReverseMode(!reverse);
  const Grads flipped = CudaBackward(d, in);
  cuda_sim::SetReverseMode(reverse);
  ExpectSameBits(base, flipped);
  cuda_sim::SetSimThreads(1);
  const Grads one = CudaBackward(d, in);
  cuda_sim::SetSimThreads(0);
  ExpectSameBits(base, one);
  // Sequence 0 alone: its inputs are the first halves of the batched arrays.
  Dims d1 = d;
  d1.b = 1;
  Inputs in1 = in;
  in1.q.resize(in.q.size() / 2), in1.dout.resize(in.dout.size() / 2);
  in1.out.resize(in.out.size() / 2), in1.lse.resize(in.lse.size() / 2);
  in1.k.resize(in.k.size() / 2), in1.v.resize(in.v.size() / 2);
  const Grads alone = CudaBackward(d1, in1);
  EXPECT_TRUE(
      SameBits(alone.dq, std::vector<float>(base.dq.begin(), base.dq.begin() + alone.dq.size())));
  EXPECT_TRUE(
      SameBits(alone.dk, std::vector<float>(base.dk.begin(), base.dk.begin() + alone.dk.size())));
  EXPECT_TRUE(
      SameBits(alone.dv, std::vector<float>(base.dv.begin(), base.dv.begin() + alone.dv.size())));
}

TEST(CudaAttentionBackward, BadShapesAreRefused) {
  std::vector<float> x(64);
  float* p = x.data();
  // NH % NKV != 0.
  EXPECT_THROW(cuda_sim::AttentionBackward(p, p, p, p, p, p, p, p, p, nullptr, 1, 3, 2, 1, 1, 8,
                                           1.0f, nullptr),
               Error);
  // Tq > Tk.
  EXPECT_THROW(cuda_sim::AttentionBackward(p, p, p, p, p, p, p, p, p, nullptr, 1, 1, 1, 2, 1, 8,
                                           1.0f, nullptr),
               Error);
  // HS > 256.
  EXPECT_THROW(cuda_sim::AttentionBackward(p, p, p, p, p, p, p, p, p, nullptr, 1, 1, 1, 1, 1, 257,
                                           1.0f, nullptr),
               Error);
}

}  // namespace
}  // namespace kiln::testing
