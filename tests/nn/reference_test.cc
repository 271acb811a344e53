// GptModel against PyTorch: the fixture in tests/fixtures/nn/ (written by
// scripts/make_nn_fixture.py from minimal float64 re-implementations of transformers'
// GPT2LMHeadModel and LlamaForCausalLM) holds Hugging Face model folders and, per family, the
// reference logits and the gradient of the mean cross-entropy for every parameter. Loading the
// folders with nn::LoadModel exercises the import (Conv1D transposes, GQA, rotate-half RoPE, tied
// head); the forward logits and every gradient must be within 1e-5 of the reference, relative to
// the reference's norm. Also: f16 / bf16 files, save -> load round trips (bitwise; the saved
// GPT-2 file keeps the Conv1D layout), and a GPT2LMHeadModel-style file ("transformer." prefix,
// causal-mask buffers, a tied lm_head.weight).
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "autograd/api.h"
#include "base/json.h"
#include "gtest/gtest.h"
#include "io/safetensors.h"
#include "nn/model_io.h"

namespace kiln::nn {
namespace {

constexpr double kTolerance = 1e-5;
const std::string kFixtures = "tests/fixtures/nn/";

// One folder per test process under the test temp dir, removed when the tests end.
std::string TempRoot() {
  static const std::string root = [] {
    std::string base = ::testing::TempDir();
    if (!base.empty() && base.back() == '/') base.pop_back();
    return base + "/kiln_nn_ref_" + std::to_string(::getpid());
  }();
  return root;
}

class RemoveTempRoot : public ::testing::Environment {
 public:
  void TearDown() override { std::filesystem::remove_all(TempRoot()); }
};
const auto* const kRemoveTempRoot = ::testing::AddGlobalTestEnvironment(new RemoveTempRoot);

std::string TempDir(const std::string& name) {
  const std::string dir = TempRoot() + "/" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

std::map<std::string, Tensor> ReadTensors(const std::string& path) {
  auto file = io::ReadSafetensors(path);
  EXPECT_TRUE(file.ok()) << file.status();
  return file.ok() ? file->tensors : std::map<std::string, Tensor>{};
}

// ||a - ref|| / ||ref|| (2-norms over all elements, in double); `a` and `ref` same shape.
double RelError(const Tensor& a, const Tensor& ref) {
  EXPECT_EQ(a.shape(), ref.shape());
  if (a.shape() != ref.shape()) return INFINITY;
  const std::vector<double> x = a.ToVector<double>(), y = ref.ToVector<double>();
  double num = 0, den = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    num += (x[i] - y[i]) * (x[i] - y[i]);
    den += y[i] * y[i];
  }
  return std::sqrt(num) / std::sqrt(den);
}

bool BitEqual(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const std::vector<double> x = a.ToVector<double>(), y = b.ToVector<double>();
  return std::memcmp(x.data(), y.data(), x.size() * sizeof(double)) == 0;
}

// The four GPT-2 weights transformers stores as Conv1D, (in, out).
bool IsConv1D(const std::string& name) {
  return absl::EndsWith(name, ".attn.c_attn.weight") ||
         absl::EndsWith(name, ".attn.c_proj.weight") || absl::EndsWith(name, ".mlp.c_fc.weight") ||
         absl::EndsWith(name, ".mlp.c_proj.weight");
}

Tensor Transposed(const Tensor& t) { return ops::Contiguous(ops::Transpose(t.Detach(), 0, 1)); }

std::unique_ptr<GptModel> Load(const std::string& dir) {
  auto model = LoadModel(dir);
  EXPECT_TRUE(model.ok()) << model.status();
  return model.ok() ? std::move(*model) : nullptr;
}

class ReferenceTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ReferenceTest, LogitsAndGradientsMatchPyTorch) {
  const std::string dir = kFixtures + GetParam();
  auto model = Load(dir);
  ASSERT_NE(model, nullptr);
  auto ref = ReadTensors(dir + "/reference.safetensors");
  ASSERT_TRUE(ref.count("input_ids") && ref.count("targets") && ref.count("logits"));
  const bool gpt2 = model->config().is_gpt2();
  EXPECT_EQ(gpt2, GetParam() == "gpt2");
  if (!gpt2) {  // the fixture exercises grouped-query attention
    EXPECT_EQ(model->config().n_kv_head * 2, model->config().n_head);
  }

  // Forward alone (no graph), then the loss with the graph.
  double logits_err = 0;
  {
    NoGradGuard no_grad;
    logits_err = RelError(model->Forward({ref.at("input_ids")}), ref.at("logits"));
  }
  Tensor loss = model->Loss({ref.at("input_ids")}, ref.at("targets"));
  const double loss_ref = ref.at("loss").item();
  EXPECT_LE(std::abs(loss.item() - loss_ref), kTolerance * std::abs(loss_ref))
      << loss.item() << " vs " << loss_ref;
  Backward(loss);

  // Every parameter (each once: GPT-2's tied wte collects the embedding and the head gradient)
  // against grad.<HF name>; Conv1D gradients are compared in the file's (in, out) layout.
  double grad_err = 0;
  std::string worst;
  int compared = 0;
  for (const auto& [name, param] : model->NamedParameters()) {
    auto it = ref.find("grad." + name);
    ASSERT_NE(it, ref.end()) << "no reference gradient for " << name;
    ASSERT_TRUE(param.grad().defined()) << name;
    Tensor g = gpt2 && IsConv1D(name) ? Transposed(param.grad()) : param.grad();
    const double e = RelError(g, it->second);
    EXPECT_LE(e, kTolerance) << name;
    if (e >= grad_err) {
      grad_err = e;
      worst = name;
    }
    ++compared;
  }
  int ref_grads = 0;
  for (const auto& [name, t] : ref) ref_grads += absl::StartsWith(name, "grad.");
  EXPECT_EQ(compared, ref_grads) << "the reference has gradients for parameters kiln lacks";
  EXPECT_LE(logits_err, kTolerance);
  std::printf(
      "[reference] %s: logits rel err %.3g, loss %.9g (ref %.9g), max grad rel err %.3g "
      "(%s), %d gradients\n",
      GetParam().c_str(), logits_err, loss.item(), loss_ref, grad_err, worst.c_str(), compared);
}

// Import checks that do not depend on the numbers: the loaded weights are the file's tensors,
// Conv1D ones transposed to kiln's (out, in).
TEST_P(ReferenceTest, LoadedWeightsAreTheFileTensors) {
  const std::string dir = kFixtures + GetParam();
  auto model = Load(dir);
  ASSERT_NE(model, nullptr);
  auto file = ReadTensors(dir + "/model.safetensors");
  const auto state = model->StateDict();
  EXPECT_EQ(state.size(), file.size());
  for (const auto& [name, t] : file) {
    ASSERT_TRUE(state.count(name)) << name;
    const Tensor& p = state.at(name);
    const bool conv = model->config().is_gpt2() && IsConv1D(name);
    if (conv) {  // transposed: a square weight (attn.c_proj) differs from the file's untransposed
      EXPECT_FALSE(BitEqual(p.Detach(), t)) << name << ": (out, in) in kiln, (in, out) on disk";
    }
    EXPECT_TRUE(BitEqual(conv ? Transposed(p) : p.Detach(), t)) << name;
  }
}

TEST_P(ReferenceTest, SaveLoadRoundTripIsBitwiseAndKeepsHfLayout) {
  const std::string dir = kFixtures + GetParam();
  auto model = Load(dir);
  ASSERT_NE(model, nullptr);
  const std::string out = TempDir("roundtrip_" + GetParam());
  ASSERT_TRUE(SaveModel(out, *model).ok());
  auto again = Load(out);
  ASSERT_NE(again, nullptr);
  const auto a = model->StateDict(), b = again->StateDict();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) EXPECT_TRUE(BitEqual(t, b.at(name))) << name;
  // The saved file holds the same tensors, with the same names, layouts and bits, as the file
  // PyTorch wrote (f32 in, f32 out): GPT-2's Conv1D weights are (in, out) again.
  const auto original = ReadTensors(dir + "/model.safetensors");
  const auto saved = ReadTensors(out + "/model.safetensors");
  ASSERT_EQ(saved.size(), original.size());
  for (const auto& [name, t] : original) {
    ASSERT_TRUE(saved.count(name)) << name;
    EXPECT_TRUE(BitEqual(saved.at(name), t)) << name;
  }
  if (model->config().is_gpt2()) {
    const GptConfig& c = model->config();
    EXPECT_EQ(saved.at("h.0.attn.c_attn.weight").shape(), (Shape{c.n_embd, 3 * c.n_embd}));
    EXPECT_EQ(saved.at("h.0.mlp.c_fc.weight").shape(), (Shape{c.n_embd, c.n_inner}));
    EXPECT_FALSE(saved.count("lm_head.weight"));  // tied: transformers does not store it
  }
  // config.json reads back to the same config.
  auto j = ReadJsonFile(out + "/config.json");
  ASSERT_TRUE(j.ok());
  auto c = GptConfig::FromJson(*j, "saved config.json");
  ASSERT_TRUE(c.ok()) << c.status();
  const GptConfig& m = model->config();
  EXPECT_EQ(c->family, m.family);
  EXPECT_EQ(c->vocab_size, m.vocab_size);
  EXPECT_EQ(c->max_positions, m.max_positions);
  EXPECT_EQ(c->n_embd, m.n_embd);
  EXPECT_EQ(c->n_layer, m.n_layer);
  EXPECT_EQ(c->n_head, m.n_head);
  EXPECT_EQ(c->n_kv_head, m.n_kv_head);
  EXPECT_EQ(c->head_dim, m.head_dim);
  EXPECT_EQ(c->n_inner, m.n_inner);
  EXPECT_EQ(c->norm_eps, m.norm_eps);
  EXPECT_EQ(c->rope_theta, m.rope_theta);
  EXPECT_EQ(c->tie_word_embeddings, m.tie_word_embeddings);
  std::filesystem::remove_all(out);
}

INSTANTIATE_TEST_SUITE_P(Families, ReferenceTest, ::testing::Values("gpt2", "llama"),
                         [](const auto& info) { return info.param; });

// f16 and bf16 files load exactly (both are exact in f32) and give the logits PyTorch computes
// from the rounded weights.
class HalfImportTest : public ::testing::TestWithParam<std::string> {};

TEST_P(HalfImportTest, LoadsExactlyAndMatchesReference) {
  const std::string dir = kFixtures + "gpt2_" + GetParam();
  auto file = ReadTensors(dir + "/model.safetensors");
  ASSERT_FALSE(file.empty());
  const DType want = GetParam() == "f16" ? DType::kF16 : DType::kBF16;
  for (const auto& [name, t] : file) ASSERT_EQ(t.dtype(), want) << name;
  auto model = Load(dir);
  ASSERT_NE(model, nullptr);
  const auto state = model->StateDict();
  for (const auto& [name, t] : file) {
    const Tensor& p = state.at(name);
    EXPECT_EQ(p.dtype(), DType::kF32) << name;
    EXPECT_TRUE(BitEqual(IsConv1D(name) ? Transposed(p) : p.Detach(), ops::Cast(t, DType::kF32)))
        << name;
  }
  auto ref = ReadTensors(dir + "/reference.safetensors");
  NoGradGuard no_grad;
  const double err = RelError(model->Forward({ref.at("input_ids")}), ref.at("logits"));
  EXPECT_LE(err, kTolerance);
  std::printf("[reference] gpt2 %s weights: logits rel err %.3g\n", GetParam().c_str(), err);
}

INSTANTIATE_TEST_SUITE_P(Dtypes, HalfImportTest, ::testing::Values("f16", "bf16"),
                         [](const auto& info) { return info.param; });

// A file as GPT2LMHeadModel.save_pretrained / the original GPT-2 conversion wrote it: every
// name under "transformer.", the causal-mask buffers h.<i>.attn.bias (1, 1, n_pos, n_pos) and
// h.<i>.attn.masked_bias (a scalar), and the tied lm_head.weight. It loads to the same weights.
TEST(ReferenceImport, TransformerPrefixAndMaskBuffersLoad) {
  const std::string src = kFixtures + "gpt2";
  auto plain = Load(src);
  ASSERT_NE(plain, nullptr);
  const GptConfig& c = plain->config();
  std::map<std::string, Tensor> tensors;
  for (const auto& [name, t] : ReadTensors(src + "/model.safetensors")) {
    tensors["transformer." + name] = t;
  }
  const int64_t n = c.max_positions;
  std::vector<float> mask(n * n);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j) mask[i * n + j] = j <= i ? 1.0f : 0.0f;
  }
  for (int64_t i = 0; i < c.n_layer; ++i) {
    const std::string h = "transformer.h." + std::to_string(i) + ".attn.";
    tensors[h + "bias"] = FromVector(mask, {1, 1, n, n});
    tensors[h + "masked_bias"] = Scalar(-1e4);
  }
  tensors["lm_head.weight"] = tensors.at("transformer.wte.weight");
  const std::string dir = TempDir("prefixed");
  ASSERT_TRUE(io::WriteSafetensors(dir + "/model.safetensors", tensors, {{"format", "pt"}}).ok());
  std::filesystem::copy_file(src + "/config.json", dir + "/config.json");
  auto model = Load(dir);
  ASSERT_NE(model, nullptr);
  const auto a = plain->StateDict(), b = model->StateDict();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, t] : a) EXPECT_TRUE(BitEqual(t, b.at(name))) << name;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kiln::nn
