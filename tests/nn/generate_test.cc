// Generation: KV-cache decoding logits bitwise equal to full recomputation at every step, a
// sample's tokens and log-probs unchanged when the batch around it changes, stop tokens and
// max_new_tokens, top-k / top-p ordering, log-probs bitwise equal to GptModel::TokenLogprobs, and
// clear errors for bad parameters.
#include "nn/generate.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <map>
#include <vector>

#include "autograd/api.h"
#include "base/rng.h"
#include "gtest/gtest.h"
#include "tests/testing/error_util.h"

namespace kiln::nn {
namespace {

GptConfig Config(bool gpt2) {
  return gpt2 ? TinyGpt2Config(/*vocab=*/61, /*n_embd=*/32, /*n_layer=*/2, /*n_head=*/4, 96)
              : TinyLlamaConfig(61, 32, 2, 4, 2, 96);
}

std::vector<int32_t> Prompt(int64_t n, uint64_t seed, int64_t vocab) {
  std::vector<int32_t> v(static_cast<size_t>(n));
  RngStream rng(seed);
  for (auto& x : v) x = static_cast<int32_t>(rng.UniformInt(static_cast<uint64_t>(vocab)));
  return v;
}

template <typename T>
bool BitEqual(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// Last-token logits of a full (uncached) forward over `seq`.
std::vector<float> FullLastLogits(const GptModel& m, const std::vector<int32_t>& seq) {
  const int64_t t = static_cast<int64_t>(seq.size());
  Tensor out = m.Forward({FromVector(seq, {1, t})});
  return Narrow(out, 1, t - 1, 1).ToVector<float>();
}

void ExpectSameResult(const GenerateResult& a, const GenerateResult& b, const char* what) {
  EXPECT_EQ(a.tokens, b.tokens) << what;
  EXPECT_TRUE(BitEqual(a.logprobs, b.logprobs)) << what;
  EXPECT_TRUE(BitEqual(a.sampling_logprobs, b.sampling_logprobs)) << what;
  EXPECT_EQ(a.finish_reason, b.finish_reason) << what;
}

class GenerateTest : public ::testing::TestWithParam<bool> {};

TEST_P(GenerateTest, GreedyLogitsAreBitwiseFullRecomputationAtEveryStep) {
  const GptConfig c = Config(GetParam());
  GptModel m(c);
  m.Init(3);
  NoGradGuard no_grad;
  // 60 + 12 tokens crosses the 64-key attention chunk; the prompts are ragged.
  std::vector<GenerateRequest> reqs = {{Prompt(60, 1, c.vocab_size), 11},
                                       {Prompt(7, 2, c.vocab_size), 12},
                                       {Prompt(1, 3, c.vocab_size), 13}};
  SamplingParams p{.temperature = 0, .max_new_tokens = 12};
  // (sample, step) -> the logits row Generate sampled from.
  std::map<std::pair<int64_t, int64_t>, std::vector<float>> seen;
  auto results = Generate(m, reqs, p, [&](const GenerateStep& s) {
    const std::vector<float> all = s.logits.ToVector<float>();
    ASSERT_EQ(all.size(), s.samples.size() * c.vocab_size);
    for (size_t r = 0; r < s.samples.size(); ++r) {
      seen[{s.samples[r], s.step}] = {all.begin() + r * c.vocab_size,
                                      all.begin() + (r + 1) * c.vocab_size};
    }
  });
  ASSERT_EQ(results.size(), 3u);
  for (int64_t i = 0; i < 3; ++i) {
    ASSERT_EQ(results[i].tokens.size(), 12u);
    EXPECT_EQ(results[i].finish_reason, "length");
    std::vector<int32_t> seq = reqs[i].prompt;
    for (int64_t t = 0; t < 12; ++t) {
      const std::vector<float> full = FullLastLogits(m, seq);
      ASSERT_TRUE(seen.count({i, t}));
      ASSERT_TRUE(BitEqual(seen[{i, t}], full)) << "sample " << i << " step " << t;
      const auto argmax = Argmax(FromVector(full, {c.vocab_size}), 0).item();
      EXPECT_EQ(results[i].tokens[t], static_cast<int32_t>(argmax))
          << "sample " << i << " step " << t;
      EXPECT_EQ(results[i].sampling_logprobs[t], 0.0f);
      seq.push_back(results[i].tokens[t]);
    }
  }
}

TEST_P(GenerateTest, SampleTokensDoNotDependOnTheBatch) {
  const GptConfig c = Config(GetParam());
  GptModel m(c);
  m.Init(4);
  // Stop tokens make the other samples drop out at different steps, so the batch also changes
  // while the sample of interest decodes.
  SamplingParams p{.temperature = 1.0,
                   .top_k = 20,
                   .top_p = 0.9,
                   .max_new_tokens = 20,
                   .stop_tokens = {3, 7, 11}};
  const GenerateRequest target{Prompt(5, 100, c.vocab_size), 42};
  const GenerateResult alone = Generate(m, {target}, p)[0];
  ASSERT_FALSE(alone.tokens.empty());

  std::vector<GenerateRequest> three = {
      {Prompt(17, 101, c.vocab_size), 1}, target, {Prompt(2, 102, c.vocab_size), 2}};
  ExpectSameResult(Generate(m, three, p)[1], alone, "batch of 3");

  std::vector<GenerateRequest> sixteen;
  for (int i = 0; i < 16; ++i) {
    sixteen.push_back({Prompt(1 + (i * 7) % 40, 200 + i, c.vocab_size), 500u + i});
  }
  sixteen[9] = target;
  auto batch16 = Generate(m, sixteen, p);
  ExpectSameResult(batch16[9], alone, "batch of 16");
  // Each of the 16 also matches itself generated alone (a different position in the batch).
  for (int i : {0, 4, 15}) ExpectSameResult(Generate(m, {sixteen[i]}, p)[0], batch16[i], "alone");

  // Sampling is really random: the same prompt with another seed goes elsewhere.
  const GenerateResult other = Generate(m, {{target.prompt, 43}}, p)[0];
  EXPECT_NE(other.tokens, alone.tokens);
}

TEST_P(GenerateTest, StopTokensEndOneSampleAndOthersContinue) {
  const GptConfig c = Config(GetParam());
  GptModel m(c);
  m.Init(5);
  std::vector<GenerateRequest> reqs = {{Prompt(9, 1, c.vocab_size), 1},
                                       {Prompt(4, 2, c.vocab_size), 2}};
  SamplingParams p{.temperature = 1.0, .max_new_tokens = 24};
  auto free_run = Generate(m, reqs, p);
  for (const auto& r : free_run) {
    EXPECT_EQ(r.tokens.size(), 24u);
    EXPECT_EQ(r.finish_reason, "length");
  }
  // Stop sample 0 at its 4th token: pick one that occurs neither earlier in sample 0 nor anywhere
  // in sample 1, so sample 1 must run to the length limit unchanged.
  const auto& a = free_run[0].tokens;
  const auto& b = free_run[1].tokens;
  size_t k = 3;
  while (k < a.size() && (std::find(a.begin(), a.begin() + k, a[k]) != a.begin() + k ||
                          std::find(b.begin(), b.end(), a[k]) != b.end())) {
    ++k;
  }
  ASSERT_LT(k, a.size()) << "no usable stop token";
  p.stop_tokens = {a[k]};
  auto stopped = Generate(m, reqs, p);
  EXPECT_EQ(stopped[0].finish_reason, "stop");
  EXPECT_EQ(stopped[0].tokens, std::vector<int32_t>(a.begin(), a.begin() + k + 1));
  EXPECT_EQ(stopped[0].logprobs.size(), k + 1);
  EXPECT_TRUE(BitEqual(
      stopped[0].logprobs,
      std::vector<float>(free_run[0].logprobs.begin(), free_run[0].logprobs.begin() + k + 1)));
  ExpectSameResult(stopped[1], free_run[1], "the sample that did not stop");

  p.stop_tokens.clear();
  p.max_new_tokens = 5;
  for (const auto& r : Generate(m, reqs, p)) {
    EXPECT_EQ(r.tokens.size(), 5u);
    EXPECT_EQ(r.finish_reason, "length");
  }
  p.max_new_tokens = 0;
  for (const auto& r : Generate(m, reqs, p)) {
    EXPECT_TRUE(r.tokens.empty());
    EXPECT_EQ(r.finish_reason, "length");
  }
}

TEST_P(GenerateTest, TopKOneIsGreedy) {
  const GptConfig c = Config(GetParam());
  GptModel m(c);
  m.Init(6);
  std::vector<GenerateRequest> reqs = {{Prompt(6, 1, c.vocab_size), 1},
                                       {Prompt(13, 2, c.vocab_size), 2}};
  auto greedy = Generate(m, reqs, {.temperature = 0, .max_new_tokens = 10});
  auto top1 =
      Generate(m, reqs, {.temperature = 1.3, .top_k = 1, .top_p = 0.5, .max_new_tokens = 10});
  for (size_t i = 0; i < reqs.size(); ++i) ExpectSameResult(top1[i], greedy[i], "top_k=1");
}

TEST_P(GenerateTest, LogprobsAreBitwiseTokenLogprobs) {
  const GptConfig c = Config(GetParam());
  GptModel m(c);
  m.Init(7);
  NoGradGuard no_grad;
  std::vector<GenerateRequest> reqs = {{Prompt(70, 1, c.vocab_size), 1},
                                       {Prompt(3, 2, c.vocab_size), 2}};
  for (const SamplingParams& p :
       {SamplingParams{.temperature = 0.8, .top_p = 0.95, .max_new_tokens = 14},
        SamplingParams{.temperature = 1.0, .max_new_tokens = 14}}) {
    auto results = Generate(m, reqs, p);
    for (size_t i = 0; i < reqs.size(); ++i) {
      const auto& r = results[i];
      std::vector<int32_t> seq = reqs[i].prompt;
      seq.insert(seq.end(), r.tokens.begin(), r.tokens.end());
      const int64_t t = static_cast<int64_t>(seq.size()) - 1;
      std::vector<int32_t> ids(seq.begin(), seq.end() - 1), targets(seq.begin() + 1, seq.end());
      const std::vector<float> lp =
          m.TokenLogprobs({FromVector(ids, {1, t})}, FromVector(targets, {1, t})).ToVector<float>();
      const std::vector<float> gen(lp.end() - static_cast<int64_t>(r.tokens.size()), lp.end());
      EXPECT_TRUE(BitEqual(r.logprobs, gen)) << "sample " << i;
      for (size_t j = 0; j < gen.size(); ++j) {
        EXPECT_NEAR(r.logprobs[j], gen[j], 1e-5);
        EXPECT_LE(r.logprobs[j], 0.0f);
        // Untempered, unfiltered: the sampling distribution is the model's, up to f32 vs f64.
        if (p.temperature == 1.0 && p.top_p == 1.0 && p.top_k == 0) {
          EXPECT_NEAR(r.sampling_logprobs[j], r.logprobs[j], 1e-5);
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Families, GenerateTest, ::testing::Values(true, false),
                         [](const auto& info) { return info.param ? "Gpt2" : "Llama"; });

TEST(SampleTokenTest, RankOrderBreaksTiesByLowerId) {
  const std::vector<float> l = {1.0f, 3.0f, 3.0f, 0.0f, 3.0f};
  double slp = 0;
  EXPECT_EQ(SampleToken(l.data(), 5, {.temperature = 0}, 0.5, &slp), 1);
  // top-k 2 keeps ids 1 and 2 (equal logits, lower ids first): u <= 1/2 picks 1, above picks 2.
  SamplingParams p{.temperature = 1.0, .top_k = 2};
  EXPECT_EQ(SampleToken(l.data(), 5, p, 0.5, &slp), 1);
  EXPECT_NEAR(slp, std::log(0.5), 1e-15);
  EXPECT_EQ(SampleToken(l.data(), 5, p, 0.5000001, &slp), 2);
  EXPECT_EQ(SampleToken(l.data(), 5, p, 1.0, &slp), 2);
  // top-p: the top token alone has mass >= 0.3, so it is always chosen.
  p = {.temperature = 1.0, .top_p = 0.3};
  for (double u : {1e-9, 0.5, 1.0}) EXPECT_EQ(SampleToken(l.data(), 5, p, u, &slp), 1);
  EXPECT_NEAR(slp, 0.0, 1e-15);
  // No filter: inverse CDF in id order.
  p = {.temperature = 1.0};
  EXPECT_EQ(SampleToken(l.data(), 5, p, 1e-9, &slp), 0);
  EXPECT_EQ(SampleToken(l.data(), 5, p, 1.0, &slp), 4);
}

TEST(SampleTokenTest, FrequenciesFollowTheTemperedDistribution) {
  const std::vector<float> l = {0.0f, 1.0f, 2.0f, -1.0f};
  for (double temp : {0.5, 1.0, 2.0}) {
    SamplingParams p{.temperature = temp};
    std::vector<double> want(4);
    double z = 0;
    for (int j = 0; j < 4; ++j) z += want[j] = std::exp(l[j] / temp);
    std::vector<int> count(4);
    const int n = 40000;
    double slp = 0;
    for (int t = 0; t < n; ++t) ++count[SampleToken(l.data(), 4, p, SampleUniform(9, t), &slp)];
    for (int j = 0; j < 4; ++j) {
      const double q = want[j] / z;
      EXPECT_NEAR(count[j] / static_cast<double>(n), q, 5 * std::sqrt(q * (1 - q) / n) + 1e-3)
          << "temperature " << temp << " token " << j;
    }
  }
  std::vector<float> bad = l;
  bad[2] = NAN;
  double slp = 0;
  EXPECT_HAS(ErrorOf([&] { SampleToken(bad.data(), 4, {}, 0.5, &slp); }),
             "logit of token 2 is nan");
}

TEST(GenerateErrorsTest, BadParamsThrowClearMessages) {
  const GptConfig c = Config(true);
  GptModel m(c);
  m.Init(1);
  const std::vector<GenerateRequest> ok = {{{1, 2, 3}, 1}};
  auto err = [&](const SamplingParams& p, const std::vector<GenerateRequest>& r = {}) {
    return ErrorOf([&] { Generate(m, r.empty() ? ok : r, p); });
  };
  EXPECT_HAS(err({.top_p = 0}), "top_p must be in (0, 1]");
  EXPECT_HAS(err({.top_p = 1.5}), "top_p must be in (0, 1]");
  EXPECT_HAS(err({.temperature = -1}), "temperature must be finite and >= 0");
  EXPECT_HAS(err({.temperature = NAN}), "temperature must be finite and >= 0");
  EXPECT_HAS(err({.top_k = -2}), "top_k must be >= 0");
  EXPECT_HAS(err({.max_new_tokens = -1}), "max_new_tokens must be >= 0");
  EXPECT_HAS(err({.max_new_tokens = 94}),
             "request 0: prompt (3 tokens) + max_new_tokens (94) exceeds the model's "
             "max_positions (96)");
  EXPECT_HAS(err({.max_new_tokens = INT64_MAX}), "exceeds the model's max_positions (96)");
  EXPECT_HAS(err({}, {{{1, 2}, 1}, {{}, 2}}), "request 1 has an empty prompt");
  EXPECT_HAS(err({}, {{{1, 61}, 1}}), "prompt token 1 = 61 is outside the vocabulary [0, 61)");
  EXPECT_HAS(err({.stop_tokens = {-1}}), "stop token -1 is outside the vocabulary");
  // The limit itself is fine.
  EXPECT_EQ(Generate(m, ok, {.max_new_tokens = 93})[0].tokens.size(), 93u);
}

}  // namespace
}  // namespace kiln::nn
