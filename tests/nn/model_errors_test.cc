// nn::LoadModel on malformed model folders: every case is a one-line error naming the file and
// the offending tensor or config field (and, for a mismatch, what was found and what was needed).
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>

#include "base/json.h"
#include "gtest/gtest.h"
#include "io/safetensors.h"
#include "nn/model_io.h"
#include "tests/testing/error_util.h"

namespace kiln::nn {
namespace {

// One folder per test process under the test temp dir, removed when the tests end.
std::string TempRoot() {
  static const std::string root = [] {
    std::string base = ::testing::TempDir();
    if (!base.empty() && base.back() == '/') base.pop_back();
    return base + "/kiln_nn_err_" + std::to_string(::getpid());
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

using Tensors = std::map<std::string, Tensor>;

// A valid folder written by SaveModel, then edited: `edit_config` changes config.json,
// `edit_tensors` the tensors of model.safetensors (HF names and layouts).
std::string Folder(const std::string& name, bool gpt2,
                   const std::function<void(Json&)>& edit_config,
                   const std::function<void(Tensors&)>& edit_tensors) {
  const std::string dir = TempDir(name);
  GptModel model(gpt2 ? TinyGpt2Config(16, 8, 2, 2, 8) : TinyLlamaConfig(16, 8, 2, 2, 1, 8));
  model.Init(1);
  EXPECT_TRUE(SaveModel(dir, model).ok());
  if (edit_config) {
    auto j = ReadJsonFile(dir + "/config.json");
    EXPECT_TRUE(j.ok());
    edit_config(*j);
    EXPECT_TRUE(WriteJsonFile(dir + "/config.json", *j).ok());
  }
  if (edit_tensors) {
    auto file = io::ReadSafetensors(dir + "/model.safetensors");
    EXPECT_TRUE(file.ok());
    edit_tensors(file->tensors);
    EXPECT_TRUE(io::WriteSafetensors(dir + "/model.safetensors", file->tensors).ok());
  }
  return dir;
}

// LoadModel's error message; fails the test if the folder loads, or if the message is not one
// line.
std::string LoadError(const std::string& dir) {
  auto model = LoadModel(dir);
  EXPECT_FALSE(model.ok()) << dir << " loaded";
  if (model.ok()) return "";
  const std::string msg(model.status().message());
  EXPECT_EQ(msg.find('\n'), std::string::npos) << "not one line: " << msg;
  EXPECT_FALSE(msg.empty());
  std::printf("[error] %s\n", msg.c_str());
  return msg;
}

TEST(ModelErrors, ValidFoldersLoad) {
  for (bool gpt2 : {true, false}) {
    auto model = LoadModel(Folder(gpt2 ? "valid_gpt2" : "valid_llama", gpt2, nullptr, nullptr));
    EXPECT_TRUE(model.ok()) << model.status();
  }
}

TEST(ModelErrors, ShapeThatDisagreesWithConfig) {
  // config.json says 12 positions; the file's wpe has 8.
  std::string msg = LoadError(Folder(
      "shape", true, [](Json& j) { j["n_positions"] = 12; }, nullptr));
  EXPECT_HAS(msg, "model.safetensors");
  EXPECT_HAS(msg, "'wpe.weight'");
  EXPECT_HAS(msg, "(8, 8)");
  EXPECT_HAS(msg, "(12, 8)");
}

TEST(ModelErrors, ShapeOfLlamaGqaProjection) {
  // num_key_value_heads 2 in the config; k_proj in the file was built for 1 KV head.
  std::string msg = LoadError(Folder(
      "gqa", false, [](Json& j) { j["num_key_value_heads"] = 2; }, nullptr));
  EXPECT_HAS(msg, "model.safetensors");
  EXPECT_HAS(msg, "'model.layers.0.self_attn.k_proj.weight'");
  EXPECT_HAS(msg, "(4, 8)");  // what the file has: 1 KV head of 4
  EXPECT_HAS(msg, "(8, 8)");  // what the config needs
}

TEST(ModelErrors, ShapeOfConv1DWeightIsReportedInFileLayout) {
  // c_fc stored (in, out) = (8, 32) on disk; a file with (8, 30) must be reported as (8, 30) vs
  // (8, 32), the file's own layout.
  std::string msg = LoadError(Folder("conv", true, nullptr, [](Tensors& t) {
    t["h.1.mlp.c_fc.weight"] = Zeros({8, 30});
  }));
  EXPECT_HAS(msg, "model.safetensors");
  EXPECT_HAS(msg, "'h.1.mlp.c_fc.weight'");
  EXPECT_HAS(msg, "(8, 30)");
  EXPECT_HAS(msg, "(8, 32)");
}

TEST(ModelErrors, IntegerDtype) {
  std::string msg = LoadError(Folder(
      "dtype", true, nullptr, [](Tensors& t) { t["ln_f.weight"] = Zeros({8}, DType::kI32); }));
  EXPECT_HAS(msg, "model.safetensors");
  EXPECT_HAS(msg, "'ln_f.weight'");
  EXPECT_HAS(msg, "i32");
}

TEST(ModelErrors, IntegerDtypeOfConv1DWeight) {
  std::string msg = LoadError(Folder("dtype_conv", true, nullptr, [](Tensors& t) {
    t["h.0.attn.c_attn.weight"] = Zeros({8, 24}, DType::kI64);
  }));
  EXPECT_HAS(msg, "'h.0.attn.c_attn.weight'");
  EXPECT_HAS(msg, "i64");
}

TEST(ModelErrors, MissingTensor) {
  for (bool gpt2 : {true, false}) {
    const std::string name = gpt2 ? "h.1.mlp.c_fc.bias" : "model.layers.1.mlp.up_proj.weight";
    std::string msg = LoadError(Folder(gpt2 ? "missing_gpt2" : "missing_llama", gpt2, nullptr,
                                       [&](Tensors& t) { t.erase(name); }));
    EXPECT_HAS(msg, "model.safetensors");
    EXPECT_HAS(msg, "missing tensor '" + name + "'");
  }
}

TEST(ModelErrors, MissingUntiedHead) {
  std::string msg = LoadError(
      Folder("missing_head", false, nullptr, [](Tensors& t) { t.erase("lm_head.weight"); }));
  EXPECT_HAS(msg, "missing tensor 'lm_head.weight'");
}

TEST(ModelErrors, UnexpectedTensor) {
  std::string msg = LoadError(Folder(
      "unexpected", true, nullptr, [](Tensors& t) { t["h.0.attn.rotary.inv_freq"] = Zeros({4}); }));
  EXPECT_HAS(msg, "model.safetensors");
  EXPECT_HAS(msg, "unexpected tensor 'h.0.attn.rotary.inv_freq'");
}

TEST(ModelErrors, TiedHeadThatDiffersFromTheEmbedding) {
  // A tied model's file may carry lm_head.weight (transformers sometimes writes it); it must be
  // the embedding, else loading would silently replace the head.
  auto load = LoadModel(Folder("tied_same", true, nullptr, [](Tensors& t) {
    t["lm_head.weight"] = t.at("wte.weight");
  }));
  EXPECT_TRUE(load.ok()) << load.status();
  std::string msg = LoadError(Folder("tied_differs", true, nullptr, [](Tensors& t) {
    t["lm_head.weight"] = Zeros(t.at("wte.weight").shape());
  }));
  EXPECT_HAS(msg, "model.safetensors");
  EXPECT_HAS(msg, "'lm_head.weight' differs from 'wte.weight'");
}

TEST(ModelErrors, TensorWithAndWithoutPrefix) {
  std::string msg = LoadError(Folder("twice", true, nullptr, [](Tensors& t) {
    t["transformer.wte.weight"] = t.at("wte.weight");
  }));
  EXPECT_HAS(msg, "model.safetensors");
  EXPECT_HAS(msg, "'wte.weight'");
}

TEST(ModelErrors, ConfigFieldOfTheWrongType) {
  std::string msg = LoadError(Folder(
      "type", true, [](Json& j) { j["n_layer"] = "two"; }, nullptr));
  EXPECT_HAS(msg, "config.json");
  EXPECT_HAS(msg, "'n_layer'");
  EXPECT_HAS(msg, "\"two\"");
  msg = LoadError(Folder(
      "type_float", false, [](Json& j) { j["rms_norm_eps"] = "small"; }, nullptr));
  EXPECT_HAS(msg, "config.json");
  EXPECT_HAS(msg, "'rms_norm_eps'");
  msg = LoadError(Folder(
      "type_frac", false, [](Json& j) { j["hidden_size"] = 8.5; }, nullptr));
  EXPECT_HAS(msg, "'hidden_size'");
  msg = LoadError(Folder(
      "type_bool", false, [](Json& j) { j["tie_word_embeddings"] = 1; }, nullptr));
  EXPECT_HAS(msg, "'tie_word_embeddings'");
}

TEST(ModelErrors, MissingConfigField) {
  std::string msg = LoadError(Folder(
      "nofield", false, [](Json& j) { j.erase("hidden_size"); }, nullptr));
  EXPECT_HAS(msg, "config.json");
  EXPECT_HAS(msg, "'hidden_size'");
}

TEST(ModelErrors, NonPositiveSizeNamesTheConfigField) {
  std::string msg = LoadError(Folder(
      "zero_pos", true, [](Json& j) { j["n_positions"] = 0; }, nullptr));
  EXPECT_HAS(msg, "config.json");
  EXPECT_HAS(msg, "'n_positions'");
  msg = LoadError(Folder(
      "zero_layers", false, [](Json& j) { j["num_hidden_layers"] = -1; }, nullptr));
  EXPECT_HAS(msg, "'num_hidden_layers'");
}

TEST(ModelErrors, MissingConfigJson) {
  const std::string dir = Folder("noconfig", true, nullptr, nullptr);
  std::filesystem::remove(dir + "/config.json");
  std::string msg = LoadError(dir);
  EXPECT_HAS(msg, dir + "/config.json");
}

TEST(ModelErrors, MissingWeights) {
  const std::string dir = Folder("noweights", true, nullptr, nullptr);
  std::filesystem::remove(dir + "/model.safetensors");
  std::string msg = LoadError(dir);
  EXPECT_HAS(msg, dir + "/model.safetensors");
}

TEST(ModelErrors, TruncatedWeights) {
  const std::string dir = Folder("truncated", true, nullptr, nullptr);
  const std::string path = dir + "/model.safetensors";
  const auto size = std::filesystem::file_size(path);
  for (uintmax_t keep : {size - 1, size / 2, uintmax_t{12}, uintmax_t{3}}) {
    std::filesystem::resize_file(path, keep);
    std::string msg = LoadError(dir);
    EXPECT_HAS(msg, path);
  }
}

TEST(ModelErrors, HeadsThatDoNotDivide) {
  std::string msg = LoadError(Folder(
      "heads", true, [](Json& j) { j["n_head"] = 3; }, nullptr));
  EXPECT_HAS(msg, "config.json");
  EXPECT_HAS(msg, "'n_head'");
  msg = LoadError(Folder(
      "kvheads", false, [](Json& j) { j["num_key_value_heads"] = 3; }, nullptr));
  EXPECT_HAS(msg, "'num_key_value_heads'");
}

TEST(ModelErrors, UnknownModelType) {
  std::string msg = LoadError(Folder(
      "bert", true, [](Json& j) { j["model_type"] = "bert"; }, nullptr));
  EXPECT_HAS(msg, "config.json");
  EXPECT_HAS(msg, "'model_type'");
  EXPECT_HAS(msg, "bert");
}

TEST(ModelErrors, UnsupportedVariants) {
  std::string msg = LoadError(Folder(
      "act", true, [](Json& j) { j["activation_function"] = "relu"; }, nullptr));
  EXPECT_HAS(msg, "'activation_function'");
  msg = LoadError(Folder(
      "scaling", false,
      [](Json& j) {
        j["rope_scaling"] = Json{{"type", "linear"}, {"factor", 2.0}};
      },
      nullptr));
  EXPECT_HAS(msg, "'rope_scaling'");
  msg = LoadError(Folder(
      "layer_scale", true, [](Json& j) { j["scale_attn_by_inverse_layer_idx"] = true; }, nullptr));
  EXPECT_HAS(msg, "'scale_attn_by_inverse_layer_idx'");
  msg = LoadError(Folder(
      "unscaled", true, [](Json& j) { j["scale_attn_weights"] = false; }, nullptr));
  EXPECT_HAS(msg, "'scale_attn_weights'");
}

}  // namespace
}  // namespace kiln::nn
