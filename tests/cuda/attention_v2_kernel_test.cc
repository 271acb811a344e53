// The tiled attention forward V2 (cuda/attention_v2.cu) through the interpreter: against the CPU
// kernel (cpu/attention.h, V1's tolerances) and bitwise against V1 (cuda/attention.cu), out and
// lse, on odd sizes: every query-tile size (HS <= 64, <= 128, <= 256), HS not a multiple of 4 (the
// scalar tails), unaligned pointers (the scalar staging), GQA, Tq < Tk (decoding against a KV
// cache), and packed documents whose boundaries fall inside query tiles, at a tile's first query,
// every position (one-token documents) and more than 256 keys back (the block's backward scan for
// a document's start takes a second window). Exactness: a query decoded alone, or in any Tq, gives
// the full pass's bits, and a sequence's rows do not depend on the batch.
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

using cuda_versions::KernelOp;

struct Case {
  int64_t b, nh, nkv, t, hs;
  int doc_kind;  // 0: none, 1: runs of 9, 2: irregular runs (1..70 keys), 3: one run of 290
};

struct Inputs {
  std::vector<float> q, k, v;  // q holds the last tq queries of each (b, h)
  std::vector<int32_t> doc;
  int64_t tq;
};

std::vector<int32_t> Docs(const Case& c) {
  std::vector<int32_t> doc(c.b * c.t, 0);
  static const int kRuns[] = {1, 1, 5, 31, 2, 24, 1, 64, 70, 3, 17, 40};  // a run starts at 64
  for (int64_t bb = 0; bb < c.b; ++bb) {
    int32_t id = 0;
    int64_t left = 0, run = bb;  // each sequence of the batch starts at a different run
    for (int64_t i = 0; i < c.t; ++i) {
      if (c.doc_kind == 1) id = static_cast<int32_t>(i / 9 % 2);
      if (c.doc_kind == 2) {
        if (left == 0) {
          left = kRuns[run++ % 12];
          id = id == 0 ? 1 : 0;
        }
        --left;
      }
      if (c.doc_kind == 3) id = i < 290 ? 7 : 8;
      doc[bb * c.t + i] = id;
    }
  }
  return doc;
}

Inputs MakeInputs(const Case& c, int64_t tq, uint32_t seed) {
  Inputs in;
  in.tq = tq;
  in.q = RandomFloats(c.b * c.nh * tq * c.hs, -1.0f, 1.0f, seed);
  in.k = RandomFloats(c.b * c.nkv * c.t * c.hs, -1.0f, 1.0f, seed + 1);
  in.v = RandomFloats(c.b * c.nkv * c.t * c.hs, -1.0f, 1.0f, seed + 2);
  in.doc = Docs(c);
  return in;
}

float Scale(const Case& c) {
  return static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.hs)));
}

// The launcher with the given version; `off` floats of misalignment for q, k, v and out.
void RunCuda(int version, const Case& c, const Inputs& in, std::vector<float>* out,
             std::vector<float>* lse, int off = 0) {
  ScopedKernelVersion use(KernelOp::kAttention, version);
  auto shifted = [off](const std::vector<float>& x) {
    std::vector<float> y(off, 0.0f);
    y.insert(y.end(), x.begin(), x.end());
    return y;
  };
  const std::vector<float> q = shifted(in.q), k = shifted(in.k), v = shifted(in.v);
  std::vector<float> o(in.q.size() + off, -7.0f);
  lse->assign(c.b * c.nh * in.tq, -7.0f);
  cuda_sim::Attention(o.data() + off, lse->data(), q.data() + off, k.data() + off, v.data() + off,
                      c.doc_kind != 0 ? in.doc.data() : nullptr, c.b, c.nh, c.nkv, in.tq, c.t, c.hs,
                      Scale(c), nullptr);
  out->assign(o.begin() + off, o.end());
}

void RunCpu(const Case& c, const Inputs& in, std::vector<float>* out, std::vector<float>* lse) {
  out->assign(in.q.size(), 0.0f);
  lse->assign(c.b * c.nh * in.tq, 0.0f);
  cpu::AttentionParams p;
  p.b = c.b;
  p.nh = c.nh;
  p.nkv = c.nkv;
  p.tq = in.tq;
  p.tk = c.t;
  p.hs = c.hs;
  p.scale = 1.0 / std::sqrt(static_cast<double>(c.hs));
  p.q = in.q.data();
  p.q_sb = c.nh * in.tq * c.hs;
  p.q_sh = in.tq * c.hs;
  p.q_st = c.hs;
  p.k = in.k.data();
  p.v = in.v.data();
  p.k_sb = p.v_sb = c.nkv * c.t * c.hs;
  p.k_sh = p.v_sh = c.t * c.hs;
  p.k_st = p.v_st = c.hs;
  p.out = out->data();
  p.out_sb = p.q_sb;
  p.out_sh = p.q_sh;
  p.out_st = p.q_st;
  p.lse = lse->data();
  p.doc = c.doc_kind != 0 ? in.doc.data() : nullptr;
  p.doc_sb = c.t;
  cpu::AttentionForward(p);
}

std::string Name(const Case& c, int64_t tq) {
  return "B" + std::to_string(c.b) + " NH" + std::to_string(c.nh) + " NKV" + std::to_string(c.nkv) +
         " Tq" + std::to_string(tq) + " Tk" + std::to_string(c.t) + " HS" + std::to_string(c.hs) +
         " docs" + std::to_string(c.doc_kind);
}

const Case kCases[] = {
    {1, 1, 1, 1, 8, 0},    {2, 4, 2, 37, 20, 0}, {1, 2, 2, 70, 64, 1},
    {2, 3, 1, 33, 40, 1},  {1, 2, 1, 67, 33, 2}, {1, 2, 1, 45, 100, 0},
    {1, 1, 1, 40, 200, 2}, {2, 2, 2, 150, 6, 2}, {1, 1, 1, 300, 8, 3},
};

TEST(CudaAttentionV2, MatchesTheCpuAndIsBitwiseV1) {
  for (const Case& c : kCases) {
    for (int64_t tq : {c.t, (c.t + 2) / 3}) {  // the full pass, and decoding the last third
      const Inputs in = MakeInputs(c, tq, 11);
      std::vector<float> o2, l2, o1, l1, oc, lc;
      RunCuda(2, c, in, &o2, &l2);
      RunCuda(1, c, in, &o1, &l1);
      RunCpu(c, in, &oc, &lc);
      EXPECT_TRUE(Near(o2, oc, 2e-5f, 1e-2f)) << Name(c, tq);
      EXPECT_TRUE(Near(l2, lc, 2e-6f)) << Name(c, tq);
      EXPECT_TRUE(SameBits(o2, o1)) << Name(c, tq);
      EXPECT_TRUE(SameBits(l2, l1)) << Name(c, tq);
    }
  }
}

TEST(CudaAttentionV2, UnalignedPointersGiveTheSameBits) {
  const Case c{1, 2, 1, 70, 16, 2};
  const Inputs in = MakeInputs(c, c.t, 21);
  std::vector<float> o, l, ou, lu;
  RunCuda(2, c, in, &o, &l);
  RunCuda(2, c, in, &ou, &lu, 1);
  EXPECT_TRUE(SameBits(ou, o));
  EXPECT_TRUE(SameBits(lu, l));
}

// Every suffix of queries (Tq = 1, 7, 64, 65, ...) against the whole KV cache gives the rows of the
// full pass: a query's bits do not depend on Tq or on which queries share its tile.
TEST(CudaAttentionV2, DecodingGivesTheFullPassBits) {
  for (const Case& c : {Case{2, 4, 2, 130, 24, 2}, Case{1, 2, 1, 75, 72, 0}}) {
    const Inputs full = MakeInputs(c, c.t, 31);
    std::vector<float> of, lf;
    RunCuda(2, c, full, &of, &lf);
    for (int64_t tq : {int64_t{1}, int64_t{7}, int64_t{64}, int64_t{65}, c.t - 1}) {
      Inputs in = full;
      in.tq = tq;
      in.q.clear();
      for (int64_t bh = 0; bh < c.b * c.nh; ++bh) {
        const auto first = full.q.begin() + (bh * c.t + c.t - tq) * c.hs;
        in.q.insert(in.q.end(), first, first + tq * c.hs);
      }
      std::vector<float> o, l;
      RunCuda(2, c, in, &o, &l);
      for (int64_t bh = 0; bh < c.b * c.nh; ++bh) {
        const auto of_row = of.begin() + (bh * c.t + c.t - tq) * c.hs;
        const auto lf_row = lf.begin() + bh * c.t + c.t - tq;
        EXPECT_TRUE(SameBits(
            std::vector<float>(o.begin() + bh * tq * c.hs, o.begin() + (bh + 1) * tq * c.hs),
            std::vector<float>(of_row, of_row + tq * c.hs)))
            << Name(c, tq) << " head " << bh;
        EXPECT_TRUE(SameBits(std::vector<float>(l.begin() + bh * tq, l.begin() + (bh + 1) * tq),
                             std::vector<float>(lf_row, lf_row + tq)))
            << Name(c, tq) << " head " << bh;
      }
    }
  }
}

TEST(CudaAttentionV2, RowsDoNotDependOnTheBatch) {
  const Case c{3, 2, 1, 90, 32, 2};
  const Inputs in = MakeInputs(c, c.t, 41);
  std::vector<float> o, l;
  RunCuda(2, c, in, &o, &l);
  for (int64_t bb = 0; bb < c.b; ++bb) {  // each sequence alone, its own document ids
    const Case one{1, c.nh, c.nkv, c.t, c.hs, c.doc_kind};
    Inputs in1;
    in1.tq = c.t;
    const int64_t nq = c.nh * c.t * c.hs, nk = c.nkv * c.t * c.hs;
    in1.q.assign(in.q.begin() + bb * nq, in.q.begin() + (bb + 1) * nq);
    in1.k.assign(in.k.begin() + bb * nk, in.k.begin() + (bb + 1) * nk);
    in1.v.assign(in.v.begin() + bb * nk, in.v.begin() + (bb + 1) * nk);
    in1.doc.assign(in.doc.begin() + bb * c.t, in.doc.begin() + (bb + 1) * c.t);
    std::vector<float> o1, l1;
    RunCuda(2, one, in1, &o1, &l1);
    EXPECT_TRUE(SameBits(o1, std::vector<float>(o.begin() + bb * nq, o.begin() + (bb + 1) * nq)))
        << "sequence " << bb;
    EXPECT_TRUE(SameBits(
        l1, std::vector<float>(l.begin() + bb * c.nh * c.t, l.begin() + (bb + 1) * c.nh * c.t)))
        << "sequence " << bb;
  }
}

// Keys a query cannot see never enter its chains: with K and V of the last 5 positions and (with
// documents) of the whole document [7, 38) poisoned with NaN, every query that sees none of them
// keeps its bits, in both versions (a masked key fed to a chain as p = 0 would give
// fmaf(0, NaN, acc) = NaN).
TEST(CudaAttentionV2, MaskedKeysNeverEnterAChain) {
  for (const Case& c : {Case{1, 2, 1, 70, 16, 0}, Case{1, 1, 1, 100, 8, 2}}) {
    const Inputs in = MakeInputs(c, c.t, 51);
    ASSERT_TRUE(c.doc_kind == 0 || (in.doc[6] != in.doc[7] && in.doc[37] != in.doc[38]));
    const auto poisoned = [&](int64_t j) {
      return j >= c.t - 5 || (c.doc_kind != 0 && j >= 7 && j < 38);
    };
    Inputs bad = in;
    for (int64_t h = 0; h < c.nkv; ++h) {
      for (int64_t j = 0; j < c.t; ++j) {
        if (!poisoned(j)) continue;
        for (int64_t d = 0; d < c.hs; ++d) {
          bad.k[(h * c.t + j) * c.hs + d] = NAN;
          bad.v[(h * c.t + j) * c.hs + d] = NAN;
        }
      }
    }
    for (int version : {1, 2}) {
      std::vector<float> o, l, ob, lb;
      RunCuda(version, c, in, &o, &l);
      RunCuda(version, c, bad, &ob, &lb);
      int64_t checked = 0;
      for (int64_t h = 0; h < c.nh; ++h) {
        for (int64_t i = 0; i < c.t; ++i) {
          if (poisoned(i)) continue;  // the query sees a poisoned key (itself at least)
          const int64_t row = h * c.t + i;
          EXPECT_TRUE(
              SameBits(std::vector<float>(ob.begin() + row * c.hs, ob.begin() + (row + 1) * c.hs),
                       std::vector<float>(o.begin() + row * c.hs, o.begin() + (row + 1) * c.hs)))
              << "V" << version << " " << Name(c, c.t) << " query " << i;
          EXPECT_TRUE(SameBits({lb[row]}, {l[row]})) << "V" << version << " query " << i;
          ++checked;
        }
      }
      EXPECT_GT(checked, 0);
    }
  }
}

}  // namespace
}  // namespace kiln::testing
