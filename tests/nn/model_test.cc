// GptModel for both families: shapes, names, training on one batch, hooks, KV-cache decoding
// bitwise equal to the full forward, packed documents equal to documents alone.
#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "autograd/api.h"
#include "base/rng.h"
#include "gtest/gtest.h"
#include "nn/fusion.h"
#include "nn/gpt.h"
#include "optim/adamw.h"
#include "tensor/storage.h"

namespace kiln::nn {
namespace {

GptConfig Config(bool gpt2) {
  return gpt2 ? TinyGpt2Config(/*vocab=*/61, /*n_embd=*/32, /*n_layer=*/2, /*n_head=*/4, 96)
              : TinyLlamaConfig(61, 32, 2, 4, 2, 96);
}

Tensor Ids(int64_t b, int64_t t, uint64_t seed, int64_t vocab) {
  std::vector<int32_t> v(b * t);
  RngStream rng(seed);
  for (auto& x : v) x = static_cast<int32_t>(rng.UniformInt(vocab));
  return FromVector(v, {b, t});
}

bool BitEqual(const Tensor& a, const Tensor& b) {
  auto x = a.ToVector<float>(), y = b.ToVector<float>();
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

class GptTest : public ::testing::TestWithParam<bool> {};

TEST_P(GptTest, NamesFollowHuggingFace) {
  GptModel m(Config(GetParam()));
  auto sd = m.StateDict();
  if (GetParam()) {
    for (const char* n : {"wte.weight", "wpe.weight", "h.0.ln_1.weight", "h.0.attn.c_attn.weight",
                          "h.0.attn.c_attn.bias", "h.1.attn.c_proj.weight", "h.1.mlp.c_fc.weight",
                          "h.1.mlp.c_proj.bias", "h.1.ln_2.bias", "ln_f.weight"}) {
      EXPECT_TRUE(sd.count(n)) << n;
    }
    EXPECT_FALSE(sd.count("lm_head.weight"));
  } else {
    for (const char* n :
         {"model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight",
          "model.layers.0.self_attn.k_proj.weight", "model.layers.1.self_attn.o_proj.weight",
          "model.layers.1.mlp.gate_proj.weight", "model.layers.1.mlp.up_proj.weight",
          "model.layers.1.mlp.down_proj.weight", "model.layers.0.input_layernorm.weight",
          "model.layers.0.post_attention_layernorm.weight", "model.norm.weight",
          "lm_head.weight"}) {
      EXPECT_TRUE(sd.count(n)) << n;
    }
    EXPECT_EQ(sd.at("model.layers.0.self_attn.k_proj.weight").shape(), (Shape{16, 32}));
  }
}

TEST_P(GptTest, OverfitsOneBatch) {
  GptModel m(Config(GetParam()));
  m.Init(7);
  Tensor ids = Ids(2, 16, 1, 61), targets = Ids(2, 16, 2, 61);
  optim::AdamW opt({{m.Parameters()}}, {.lr = 1e-2, .weight_decay = 0.0});
  double first = 0, last = 0;
  for (int step = 0; step < 60; ++step) {
    opt.ZeroGrad();
    Tensor loss = m.Loss({ids}, targets);
    if (step == 0) first = loss.item();
    last = loss.item();
    Backward(loss);
    opt.Step();
  }
  EXPECT_NEAR(first, std::log(61.0), 0.3);
  EXPECT_LT(last, 0.1) << "first " << first;
}

// The caching allocator: after the first step, a training step (forward, backward, AdamW) takes
// every block from the cache (under AddressSanitizer blocks are never reused; checked instead).
TEST_P(GptTest, TrainingStepDoesNoFreshAllocationAfterTheFirst) {
  GptModel m(Config(GetParam()));
  m.Init(3);
  Tensor ids = Ids(2, 16, 1, 61), targets = Ids(2, 16, 2, 61);
  optim::AdamW opt({{m.Parameters()}}, {.lr = 1e-3, .weight_decay = 0.1});
  auto step = [&] {
    opt.ZeroGrad();
    Tensor loss = m.Loss({ids}, targets);
    Backward(loss);
    opt.Step();
  };
  step();
  step();
  const AllocatorStats before = CpuAllocatorStats();
  step();
  const AllocatorStats after = CpuAllocatorStats();
  EXPECT_GT(after.allocations, before.allocations);
#if defined(__SANITIZE_ADDRESS__)
  EXPECT_EQ(after.fresh_allocations - before.fresh_allocations,
            after.allocations - before.allocations);
#else
  EXPECT_EQ(after.fresh_allocations, before.fresh_allocations);
#endif
}

// The fused paths against the unfused ones (nn/fusion.h) on a training step: norm, qkv and
// swiglu give the same bits; ce too here (V = 61, one vocabulary chunk); linear moves the numbers
// by rounding only (the bias starts the GEMM's FMA chain).
TEST_P(GptTest, FusedPathsMatchUnfused) {
  auto run = [&](const Fusion& f) {
    SetFusion(f);
    GptModel m(Config(GetParam()));
    m.Init(5);
    Tensor ids = Ids(2, 16, 1, 61), targets = Ids(2, 16, 2, 61);
    Tensor loss = m.Loss({ids}, targets);
    Backward(loss);
    std::vector<Tensor> out = {loss};
    for (const Tensor& p : m.Parameters()) out.push_back(p.grad());
    SetFusion(Fusion{});
    return out;
  };
  const Fusion off{false, false, false, false, false};
  Fusion exact = off;
  exact.ce = exact.norm = exact.qkv = exact.swiglu = true;
  std::vector<Tensor> a = run(off), b = run(exact), c = run(Fusion{});
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(BitEqual(a[i], b[i])) << "tensor " << i;
    std::vector<float> x = a[i].ToVector<float>(), y = c[i].ToVector<float>();
    for (size_t j = 0; j < x.size(); ++j) {
      ASSERT_NEAR(x[j], y[j], 1e-5 + 1e-4 * std::abs(x[j])) << "tensor " << i << " element " << j;
    }
  }
}

TEST(Fusion, ParsesUnfuseLists) {
  Fusion f = ParseUnfuse("ce,norm");
  EXPECT_FALSE(f.ce);
  EXPECT_FALSE(f.norm);
  EXPECT_TRUE(f.linear && f.qkv && f.swiglu);
  f = ParseUnfuse("all");
  EXPECT_FALSE(f.ce || f.linear || f.norm || f.qkv || f.swiglu);
  f = ParseUnfuse("");
  EXPECT_TRUE(f.ce && f.linear && f.norm && f.qkv && f.swiglu);
  try {
    ParseUnfuse("ce,bogus");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("KILN_UNFUSE: unknown fused path 'bogus'"),
              std::string::npos)
        << e.what();
  }
}

TEST_P(GptTest, HooksSeeEveryModule) {
  GptModel m(Config(GetParam()));
  m.Init(1);
  std::map<std::string, int> fwd, bwd;
  int f = m.AddForwardHook([&](const std::string& n, const Module&, const Tensor&) { fwd[n]++; });
  m.AddBackwardHook([&](const std::string& n, const Module&, const Tensor& g) {
    EXPECT_TRUE(g.defined());
    bwd[n]++;
  });
  Tensor ids = Ids(1, 8, 3, 61);
  Backward(m.Loss({ids}, ids));
  const std::string attn = GetParam() ? "h.1.attn" : "model.layers.1.self_attn";
  EXPECT_EQ(fwd[attn], 1);
  EXPECT_EQ(bwd[attn], 1);
  EXPECT_EQ(fwd[GetParam() ? "h.0" : "model.layers.0"], 1);
  m.RemoveHook(f);
  fwd.clear();
  m.Forward({ids});
  EXPECT_TRUE(fwd.empty());
}

TEST_P(GptTest, KvCacheDecodingIsBitwiseFullForward) {
  const GptConfig c = Config(GetParam());
  GptModel m(c);
  m.Init(3);
  NoGradGuard no_grad;
  const int64_t t = 80;  // > 64: crosses an attention key chunk
  Tensor ids = Ids(1, t, 5, c.vocab_size);
  Tensor full = m.Forward({ids});  // (1, T, V)
  const std::vector<int32_t> v = ids.ToVector<int32_t>();
  KvCache cache = KvCache::Make(c, t);
  // Prefill 5 tokens, then one at a time.
  Tensor logits = m.ForwardCached({v.begin(), v.begin() + 5}, {5}, {&cache});
  EXPECT_TRUE(BitEqual(logits, Narrow(full, 1, 4, 1)));
  for (int64_t i = 5; i < t; ++i) {
    logits = m.ForwardCached({v[i]}, {1}, {&cache});
    ASSERT_TRUE(BitEqual(logits, Narrow(full, 1, i, 1))) << "position " << i;
  }
}

TEST_P(GptTest, RaggedBatchRowsEqualSingleSamples) {
  const GptConfig c = Config(GetParam());
  GptModel m(c);
  m.Init(4);
  NoGradGuard no_grad;
  const std::vector<int32_t> a = Ids(1, 9, 8, c.vocab_size).ToVector<int32_t>();
  const std::vector<int32_t> b = Ids(1, 3, 9, c.vocab_size).ToVector<int32_t>();
  KvCache ca = KvCache::Make(c, 16), cb = KvCache::Make(c, 16), solo = KvCache::Make(c, 16);
  std::vector<int32_t> both = a;
  both.insert(both.end(), b.begin(), b.end());
  Tensor batched = m.ForwardCached(both, {9, 3}, {&ca, &cb});
  Tensor alone = m.ForwardCached(b, {3}, {&solo});
  EXPECT_TRUE(BitEqual(Narrow(batched, 0, 1, 1), alone));
}

TEST_P(GptTest, PackedDocumentsEqualDocumentsAlone) {
  const GptConfig c = Config(GetParam());
  GptModel m(c);
  m.Init(5);
  NoGradGuard no_grad;
  std::vector<int32_t> a = Ids(1, 7, 10, c.vocab_size).ToVector<int32_t>();
  std::vector<int32_t> b = Ids(1, 5, 11, c.vocab_size).ToVector<int32_t>();
  a.back() = 0;  // eos = 0 ends document a
  for (auto& x : b) x = x == 0 ? 1 : x;
  std::vector<int32_t> packed = a;
  packed.insert(packed.end(), b.begin(), b.end());
  Tensor ids = FromVector(packed, {1, 12});
  PackedPositions pp = PositionsFromEos(ids, 0);
  Tensor out = m.Forward({ids, pp.positions, pp.doc_ids});
  Tensor alone = m.Forward({FromVector(b, {1, 5})});
  EXPECT_TRUE(BitEqual(Narrow(out, 1, 7, 5), alone));
}

TEST_P(GptTest, TokenLogprobsMatchLogSoftmax) {
  const GptConfig c = Config(GetParam());
  GptModel m(c);
  m.Init(6);
  NoGradGuard no_grad;
  Tensor ids = Ids(2, 6, 12, c.vocab_size), tg = Ids(2, 6, 13, c.vocab_size);
  Tensor lp = m.TokenLogprobs({ids}, tg);
  Tensor ls = LogSoftmax(m.Forward({ids}), -1);
  auto l = lp.ToVector<float>(), all = ls.ToVector<float>(), t = tg.ToVector<float>();
  for (size_t i = 0; i < l.size(); ++i) {
    EXPECT_NEAR(l[i], all[i * c.vocab_size + static_cast<int64_t>(t[i])], 1e-5);
  }
}

// Init draws parameter i's element e from Philox(seed, (i << 40) + e) in f64, scaled and rounded
// once; large parameters are drawn in row blocks, which must not change a bit.
TEST(GptInit, BlockedDrawsEqualOneDraw) {
  GptConfig c = TinyGpt2Config(/*vocab=*/4500, /*n_embd=*/256, /*n_layer=*/1, /*n_head=*/4, 16);
  GptModel m(c);
  m.Init(11);
  auto named = m.NamedParameters();
  ASSERT_EQ(named[0].first, "wte.weight");
  ASSERT_GT(named[0].second.numel(), 1 << 20);
  Tensor expect = ops::Cast(ops::MulScalar(Randn({4500, 256}, 11, 0, DType::kF64), 0.02),
                            DType::kF32);
  EXPECT_TRUE(BitEqual(named[0].second, expect));
  ASSERT_EQ(named[1].first, "wpe.weight");
  Tensor wpe = ops::Cast(ops::MulScalar(Randn({16, 256}, 11, uint64_t{1} << 40, DType::kF64), 0.02),
                         DType::kF32);
  EXPECT_TRUE(BitEqual(named[1].second, wpe));
}

INSTANTIATE_TEST_SUITE_P(Families, GptTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Gpt2" : "Llama"; });

}  // namespace
}  // namespace kiln::nn
