// The arithmetic of one SFT step (train/sft_batch.h) on a tiny model: accumulation over
// micro-batches gives the global batch's loss and gradients for every micro-batch size that divides
// it (examples of very different response lengths); each loss normalization against a naive
// per-example computation; packed == unpacked; prompt targets change nothing; the final EOS is
// learned also when the pad id equals EOS; padding never counts.
#include "base/thread_pool.h"

#include <cmath>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "autograd/api.h"
#include "data/chat_template.h"
#include "gtest/gtest.h"
#include "nn/gpt.h"
#include "train/sft_batch.h"

namespace kiln::train {
namespace {

// The models here are tiny: OpenMP fork/join would cost more than it saves on the shared 2-core CI
// machine, and the bits do not depend on the thread count.
const int kOneThread = [] {
  kiln::SetNumThreads(1);
  return 1;
}();

using data::TokenizedExample;

struct SftBatchSetup {
  data::ByteTokenizer tok;
  nn::GptModel model{nn::TinyGpt2Config(262, 32, 2, 4, 256)};
  std::vector<TokenizedExample> examples;
  SftBatchSetup() {
    model.Init(7);
    // Responses of very different lengths: 1, 60, 9 and 150 bytes.
    const std::vector<std::pair<std::string, std::string>> pairs = {
        {"Use 3 5 7 to make 22.", "x"},
        {"What is 12 + 30?", std::string(30, 'a') + " then " + std::string(24, 'b')},
        {"Say hi.", "hi there"},
        {"Count to many.", std::string(150, 'z')}};
    for (const auto& [p, r] : pairs) {
      auto ex = data::TokenizeExample(tok, p, r, {.max_len = 256});
      EXPECT_TRUE(ex.ok()) << ex.status();
      examples.push_back(*ex);
    }
  }
  std::vector<const TokenizedExample*> Batch() const {
    std::vector<const TokenizedExample*> b;
    for (const auto& e : examples) b.push_back(&e);
    return b;
  }
  // Runs the batch; returns the loss and fills the gradients (name -> values in double).
  double Run(const std::vector<const TokenizedExample*>& batch, const GlobalBatchOptions& o,
             std::map<std::string, std::vector<double>>* grads) {
    for (auto& [name, p] : model.NamedParameters()) p.set_grad(Tensor());
    GlobalBatchResult r = RunGlobalBatch(model, batch, o);
    grads->clear();
    for (auto& [name, p] : model.NamedParameters()) {
      (*grads)[name] = p.grad().defined() ? p.grad().ToVector<double>()
                                          : std::vector<double>(p.numel(), 0.0);
    }
    return r.loss;
  }
};

double Norm(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x * x;
  return std::sqrt(s);
}

// max over tensors of ||a - b|| / ||b||.
double RelDiff(const std::map<std::string, std::vector<double>>& a,
               const std::map<std::string, std::vector<double>>& b) {
  double worst = 0;
  for (const auto& [name, bv] : b) {
    const auto& av = a.at(name);
    std::vector<double> d(bv.size());
    for (size_t i = 0; i < bv.size(); ++i) d[i] = av[i] - bv[i];
    const double nb = Norm(bv);
    worst = std::max(worst, nb > 0 ? Norm(d) / nb : Norm(d));
  }
  return worst;
}

GlobalBatchOptions Opts(LossNorm norm, int64_t micro, bool pack) {
  return GlobalBatchOptions{.norm = norm, .micro_batch = micro, .pack = pack, .max_len = 256,
                            .pad_id = 258};
}

class AccumulationTest : public ::testing::TestWithParam<LossNorm> {};

TEST_P(AccumulationTest, EveryMicroBatchSizeGivesTheGlobalBatch) {
  SftBatchSetup s;
  std::map<std::string, std::vector<double>> whole, part;
  const double loss = s.Run(s.Batch(), Opts(GetParam(), 4, false), &whole);
  ASSERT_GT(Norm(whole.at("wte.weight")), 0);
  for (int64_t micro : {1, 2}) {
    for (bool pack : {false, true}) {
      const double l = s.Run(s.Batch(), Opts(GetParam(), micro, pack), &part);
      EXPECT_LE(std::fabs(l - loss), 1e-6 * std::fabs(loss)) << "micro " << micro;
      EXPECT_LE(RelDiff(part, whole), 1e-6) << "micro " << micro << " pack " << pack;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Sft, AccumulationTest,
                         ::testing::Values(LossNorm::kToken, LossNorm::kSequence, LossNorm::kSum),
                         [](const auto& info) { return LossNormName(info.param); });

// Naive: each example alone, its per-token cross-entropies summed in double, then combined by the
// normalization's definition; gradients of each example's plain sum combined the same way.
class NormalizationTest : public ::testing::TestWithParam<LossNorm> {};

TEST_P(NormalizationTest, MatchesNaivePerExampleComputation) {
  SftBatchSetup s;
  const LossNorm norm = GetParam();
  const int64_t g = static_cast<int64_t>(s.examples.size());
  std::vector<double> sums(g);
  std::vector<int64_t> counts(g);
  std::vector<std::map<std::string, std::vector<double>>> grads(g);
  int64_t total = 0;
  for (int64_t i = 0; i < g; ++i) {
    const TokenizedExample& ex = s.examples[i];
    std::vector<int32_t> targets(ex.length);
    for (int t = 0; t < ex.length; ++t) targets[t] = ex.loss_mask[t] != 0 ? ex.targets[t] : -100;
    counts[i] = SupervisedTokens(ex);
    total += counts[i];
    for (auto& [name, p] : s.model.NamedParameters()) p.set_grad(Tensor());
    nn::ModelInput in{.ids = FromVector(ex.ids, {1, ex.length})};
    Tensor lp = s.model.TokenLogprobs(in, FromVector(targets, {1, ex.length}), -100);
    double sum = 0;
    for (double v : lp.ToVector<double>()) sum -= v;
    sums[i] = sum;
    Backward(Neg(Sum(lp)));
    for (auto& [name, p] : s.model.NamedParameters()) grads[i][name] = p.grad().ToVector<double>();
  }
  std::vector<double> w(g);
  for (int64_t i = 0; i < g; ++i) {
    w[i] = norm == LossNorm::kSum        ? 1.0
           : norm == LossNorm::kToken    ? 1.0 / static_cast<double>(total)
                                         : 1.0 / (static_cast<double>(g) * counts[i]);
  }
  double naive = 0;
  std::map<std::string, std::vector<double>> naive_grads = grads[0];
  for (auto& [name, v] : naive_grads) std::fill(v.begin(), v.end(), 0.0);
  for (int64_t i = 0; i < g; ++i) {
    naive += w[i] * sums[i];
    for (auto& [name, v] : naive_grads) {
      for (size_t k = 0; k < v.size(); ++k) v[k] += w[i] * grads[i][name][k];
    }
  }
  for (int64_t micro : {1, 4}) {
    std::map<std::string, std::vector<double>> got;
    const double loss = s.Run(s.Batch(), Opts(norm, micro, false), &got);
    EXPECT_LE(std::fabs(loss - naive), 1e-6 * std::fabs(naive)) << loss << " vs " << naive;
    EXPECT_LE(RelDiff(got, naive_grads), 1e-5) << "micro " << micro;
  }
  if (norm == LossNorm::kToken) {
    // The accumulation bug other trainers shipped: the mean of per-micro-batch means is another
    // number when responses differ in length; kiln's token mean is not that.
    double mean_of_means = 0;
    for (int64_t i = 0; i < g; ++i) mean_of_means += sums[i] / counts[i] / g;
    EXPECT_GT(std::fabs(mean_of_means - naive), 1e-3 * naive);
  }
}

INSTANTIATE_TEST_SUITE_P(Sft, NormalizationTest,
                         ::testing::Values(LossNorm::kToken, LossNorm::kSequence, LossNorm::kSum),
                         [](const auto& info) { return LossNormName(info.param); });

TEST(SftPackingTest, PackedEqualsUnpacked) {
  SftBatchSetup s;
  std::vector<double> w = ExampleWeights(s.Batch(), LossNorm::kToken);
  MicroBatch packed = BuildMicroBatch(s.Batch(), w, true, 256, 258);
  MicroBatch unpacked = BuildMicroBatch(s.Batch(), w, false, 256, 258);
  EXPECT_LT(packed.rows, unpacked.rows);  // several documents share a row
  EXPECT_EQ(packed.real_tokens, unpacked.real_tokens);
  for (LossNorm norm : {LossNorm::kToken, LossNorm::kSequence, LossNorm::kSum}) {
    std::map<std::string, std::vector<double>> a, b;
    const double la = s.Run(s.Batch(), Opts(norm, 4, true), &a);
    const double lb = s.Run(s.Batch(), Opts(norm, 4, false), &b);
    EXPECT_LE(std::fabs(la - lb), 1e-6 * std::fabs(lb)) << LossNormName(norm);
    EXPECT_LE(RelDiff(a, b), 1e-6) << LossNormName(norm);
  }
  // No label crosses a document boundary: the last token of each packed document learns nothing.
  std::vector<int32_t> doc = packed.input.doc_ids.ToVector<int32_t>();
  std::vector<float> wt = packed.weights.ToVector<float>();
  std::vector<int32_t> tg = packed.targets.ToVector<int32_t>();
  for (int64_t r = 0; r < packed.rows; ++r) {
    for (int64_t t = 0; t + 1 < packed.width; ++t) {
      const int64_t i = r * packed.width + t;
      if (doc[i] >= 0 && doc[i + 1] != doc[i]) {
        EXPECT_EQ(wt[i], 0.0f) << "row " << r << " position " << t;
        EXPECT_EQ(tg[i], -100);
      }
    }
  }
}

TEST(SftMaskTest, PromptTargetsChangeNothing) {
  SftBatchSetup s;
  std::map<std::string, std::vector<double>> a, b;
  const double la = s.Run(s.Batch(), Opts(LossNorm::kToken, 2, false), &a);
  int changed = 0;
  for (TokenizedExample& ex : s.examples) {
    for (int t = 0; t < ex.length; ++t) {
      if (ex.loss_mask[t] == 0.0f) {
        ex.targets[t] = (ex.targets[t] + 17) % 256;
        ++changed;
      }
    }
  }
  ASSERT_GT(changed, 20);
  const double lb = s.Run(s.Batch(), Opts(LossNorm::kToken, 2, false), &b);
  EXPECT_EQ(std::memcmp(&la, &lb, sizeof la), 0);
  EXPECT_EQ(RelDiff(a, b), 0.0);
  // A response target, by contrast, changes the loss.
  TokenizedExample& ex = s.examples[1];
  ex.targets[ex.prompt_length + 2] = (ex.targets[ex.prompt_length + 2] + 17) % 256;
  const double lc = s.Run(s.Batch(), Opts(LossNorm::kToken, 2, false), &b);
  EXPECT_NE(la, lc);
}

TEST(SftMaskTest, FinalEosIsLearnedWhenPadIdIsEos) {
  data::ByteTokenizer tok;
  nn::GptModel model(nn::TinyGpt2Config(262, 32, 2, 4, 64));
  model.Init(3);
  const int32_t eos = tok.eos_id();
  auto padded = data::TokenizeExample(tok, "Add 2 and 2.", "4",
                                      {.max_len = 48, .pad_to_max = true, .pad_id = eos});
  auto longer = data::TokenizeExample(tok, "Add 20 and 22.", "42, since 20 + 22 = 42",
                                      {.max_len = 48, .pad_to_max = true, .pad_id = eos});
  ASSERT_TRUE(padded.ok() && longer.ok());
  const TokenizedExample& ex = *padded;
  ASSERT_EQ(ex.ids[ex.length - 1], eos);
  ASSERT_EQ(ex.ids[ex.length], eos);  // padding with the same id
  // The last real position predicts EOS and is learned; padding positions are not.
  EXPECT_EQ(ex.targets[ex.length - 2], eos);
  EXPECT_EQ(ex.loss_mask[ex.length - 2], 1.0f);
  std::vector<const TokenizedExample*> batch = {&ex, &*longer};
  MicroBatch mb = BuildMicroBatch(batch, {1.0, 1.0}, false, 48, eos);
  std::vector<float> w = mb.weights.ToVector<float>();
  EXPECT_EQ(w[ex.length - 2], 1.0f);
  for (int64_t t = ex.length - 1; t < mb.width; ++t) EXPECT_EQ(w[t], 0.0f) << t;
  // Sum-normalized loss == the naive sum of the response tokens' losses, EOS included.
  const double loss =
      RunGlobalBatch(model, batch, {.norm = LossNorm::kSum, .micro_batch = 2, .max_len = 48,
                                    .pad_id = eos, .backward = false})
          .loss;
  double naive = 0, eos_term = 0;
  for (const TokenizedExample* e : batch) {
    nn::ModelInput in{.ids = FromVector(std::vector<int32_t>(e->ids.begin(),
                                                             e->ids.begin() + e->length),
                                        {1, e->length})};
    std::vector<int32_t> tg(e->targets.begin(), e->targets.begin() + e->length);
    Tensor lp = model.TokenLogprobs(in, FromVector(tg, {1, e->length}), -100);
    std::vector<double> v = lp.ToVector<double>();
    for (int t = e->prompt_length - 1; t + 1 < e->length; ++t) naive -= v[t];
    eos_term -= v[e->length - 2];
  }
  EXPECT_GT(eos_term, 0.1);
  EXPECT_NEAR(loss, naive, 1e-5 * naive);
  EXPECT_GT(std::fabs(loss - (naive - eos_term)), 0.1);
}

}  // namespace
}  // namespace kiln::train
