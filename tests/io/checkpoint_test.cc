// Checkpoint folder tests: save/load round trip, overwriting, and the states an interrupted save
// can leave behind (a stale <dir>.tmp.<pid>, <dir>.old with or without <dir>): the previous
// checkpoint must stay loadable and the next save must clean up.
#include "io/checkpoint.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/file.h"

namespace kiln::io {
namespace {

namespace fs = std::filesystem;

#define EXPECT_CONTAINS(text, sub)                          \
  EXPECT_NE(std::string(text).find(sub), std::string::npos) \
      << "'" << std::string(text) << "' does not contain '" << (sub) << "'"

// A fresh folder per test, so reruns never see old state.
std::string FreshDir(const std::string& name) {
  std::string root = testing::TempDir() + "/kiln_io_ckpt_" + name;
  fs::remove_all(root);
  fs::create_directories(root);
  return root;
}

std::map<std::string, Tensor> Weights(double scale) {
  return {{"wte", Full({4, 3}, scale, DType::kF32)}, {"ln.bias", Full({3}, -scale, DType::kBF16)}};
}

void Touch(const std::string& path, const std::string& text = "partial") {
  std::ofstream(path) << text;
}

TEST(Checkpoint, RoundTripAllParts) {
  std::string dir = FreshDir("roundtrip") + "/step_100";
  Json config = {{"n_layer", 2}, {"n_embd", 3}, {"model_type", "gpt2"}};
  std::map<std::string, Tensor> moments = {{"wte.m", Full({4, 3}, 0.5, DType::kF32)},
                                           {"step", Scalar(100, DType::kI64)}};
  Json trainer = {{"step", 100}, {"rng", {{"seed", 7}, {"offset", 1234}}}, {"cursor", 99}};
  ASSERT_TRUE(SaveCheckpoint(dir, Weights(1.5), config, moments, trainer).ok());
  for (const char* f :
       {"model.safetensors", "config.json", "optimizer.safetensors", "trainer_state.json"}) {
    EXPECT_TRUE(fs::exists(dir + "/" + f)) << f;
  }
  auto ckpt = LoadCheckpoint(dir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_EQ(ckpt->loaded_from, dir);
  EXPECT_EQ(ckpt->config, config);
  EXPECT_EQ(ckpt->trainer_state, trainer);
  ASSERT_EQ(ckpt->weights.size(), 2u);
  EXPECT_EQ(ckpt->weights.at("wte").ToVector<float>(), std::vector<float>(12, 1.5f));
  EXPECT_EQ(ckpt->weights.at("ln.bias").dtype(), DType::kBF16);
  EXPECT_EQ(ckpt->weights.at("ln.bias").ToVector<float>(), std::vector<float>(3, -1.5f));
  EXPECT_EQ(ckpt->extra_state.at("step").item(), 100);
  EXPECT_EQ(ckpt->extra_state.at("wte.m").ToVector<float>(), std::vector<float>(12, 0.5f));
  // Nothing left beside the folder.
  EXPECT_EQ(
      std::distance(fs::directory_iterator(fs::path(dir).parent_path()), fs::directory_iterator()),
      1);
}

TEST(Checkpoint, WeightsOnlyAndOverwrite) {
  std::string dir = FreshDir("overwrite") + "/ckpt/";  // a trailing slash names the same folder
  ASSERT_TRUE(SaveCheckpoint(dir, Weights(1), {{"v", 1}}).ok());
  ASSERT_TRUE(SaveCheckpoint(dir, Weights(2), {{"v", 2}}).ok());
  std::string plain = dir.substr(0, dir.size() - 1);
  EXPECT_FALSE(fs::exists(plain + "/optimizer.safetensors"));
  EXPECT_FALSE(fs::exists(plain + "/trainer_state.json"));
  EXPECT_FALSE(fs::exists(plain + ".old"));
  auto ckpt = LoadCheckpoint(dir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_EQ(ckpt->config["v"], 2);
  EXPECT_EQ(ckpt->weights.at("wte").ToVector<float>()[0], 2.0f);
  EXPECT_TRUE(ckpt->extra_state.empty());
  EXPECT_TRUE(ckpt->trainer_state.is_null());
}

TEST(Checkpoint, ExtraFilesJoinTheSameSwap) {
  std::string dir = FreshDir("extra") + "/ckpt";
  ASSERT_TRUE(SaveCheckpoint(dir, Weights(1), {{"v", 1}}, {}, Json(),
                             {{"kiln_tokenizer.json", "{\"type\": \"byte\"}\n"}})
                  .ok());
  std::ifstream in(dir + "/kiln_tokenizer.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "{\"type\": \"byte\"}\n");
  for (const char* bad : {"a/b.json", "", "..", "config.json", "model.safetensors"}) {
    absl::Status s = SaveCheckpoint(dir, Weights(2), {{"v", 2}}, {}, Json(), {{bad, "x"}});
    ASSERT_FALSE(s.ok()) << bad;
    EXPECT_CONTAINS(s.message(), "bad extra file name");
  }
  EXPECT_EQ(LoadCheckpoint(dir)->config["v"], 1);  // the refused saves changed nothing
}

TEST(Checkpoint, LeftoverTempFoldersAreIgnoredThenCleaned) {
  std::string root = FreshDir("tmp_leftover");
  std::string dir = root + "/ckpt";
  ASSERT_TRUE(SaveCheckpoint(dir, Weights(1), {{"v", 1}}).ok());
  // A save killed while writing: half-written folders of a dead process and of this one. Pid 1
  // is alive (init), so its folder belongs to a possibly running saver and must stay.
  std::string dead = dir + ".tmp.2147483000", mine = absl::StrCat(dir, ".tmp.", getpid());
  std::string live = dir + ".tmp.1";
  for (const std::string& t : {dead, mine, live}) {
    fs::create_directories(t);
    Touch(t + "/model.safetensors");
  }
  auto ckpt = LoadCheckpoint(dir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_EQ(ckpt->config["v"], 1);

  ASSERT_TRUE(SaveCheckpoint(dir, Weights(2), {{"v", 2}}).ok());
  EXPECT_FALSE(fs::exists(dead));
  EXPECT_FALSE(fs::exists(mine));
  EXPECT_TRUE(fs::exists(live));
  ckpt = LoadCheckpoint(dir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_EQ(ckpt->config["v"], 2);
}

TEST(Checkpoint, KilledBetweenRenamesFallsBackToOld) {
  // The one window: <dir> renamed to <dir>.old, the new folder not yet renamed into place.
  std::string root = FreshDir("between_renames");
  std::string dir = root + "/ckpt";
  ASSERT_TRUE(SaveCheckpoint(dir, Weights(1), {{"v", 1}}).ok());
  fs::rename(dir, dir + ".old");
  fs::create_directories(dir + ".tmp.2147483000");
  Touch(dir + ".tmp.2147483000/config.json", "{\"v\": 2}");

  auto ckpt = LoadCheckpoint(dir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_EQ(ckpt->loaded_from, dir + ".old");
  EXPECT_EQ(ckpt->config["v"], 1);

  // The next save keeps <dir>.old until the new folder is in place, then removes it.
  ASSERT_TRUE(SaveCheckpoint(dir, Weights(3), {{"v", 3}}).ok());
  EXPECT_FALSE(fs::exists(dir + ".old"));
  EXPECT_FALSE(fs::exists(dir + ".tmp.2147483000"));
  ckpt = LoadCheckpoint(dir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_EQ(ckpt->loaded_from, dir);
  EXPECT_EQ(ckpt->config["v"], 3);
}

TEST(Checkpoint, KilledBeforeDeletingOld) {
  // Both <dir> (new, complete) and <dir>.old exist: <dir> wins, and the next save cleans up.
  std::string root = FreshDir("before_delete");
  std::string dir = root + "/ckpt";
  ASSERT_TRUE(SaveCheckpoint(dir + ".old", Weights(1), {{"v", 1}}).ok());
  ASSERT_TRUE(SaveCheckpoint(dir, Weights(2), {{"v", 2}}).ok());
  auto ckpt = LoadCheckpoint(dir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_EQ(ckpt->config["v"], 2);
  ASSERT_TRUE(SaveCheckpoint(dir, Weights(4), {{"v", 4}}).ok());
  EXPECT_FALSE(fs::exists(dir + ".old"));
  ckpt = LoadCheckpoint(dir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_EQ(ckpt->config["v"], 4);
}

TEST(Checkpoint, LoadErrorsNameTheFile) {
  std::string root = FreshDir("errors");
  std::string dir = root + "/ckpt";
  auto missing = LoadCheckpoint(dir);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_CONTAINS(missing.status().message(), dir);

  ASSERT_TRUE(SaveCheckpoint(dir, Weights(1), {{"v", 1}}, {}, Json{{"step", 1}}).ok());
  ASSERT_TRUE(WriteFileAtomic(dir + "/trainer_state.json", "{\"step\": ").ok());
  auto bad = LoadCheckpoint(dir);
  ASSERT_FALSE(bad.ok());
  EXPECT_CONTAINS(bad.status().message(), "trainer_state.json");

  ASSERT_TRUE(WriteFileAtomic(dir + "/model.safetensors", "garbage!!").ok());
  bad = LoadCheckpoint(dir);
  ASSERT_FALSE(bad.ok());
  EXPECT_CONTAINS(bad.status().message(), "model.safetensors");

  fs::remove(dir + "/model.safetensors");
  bad = LoadCheckpoint(dir);
  ASSERT_FALSE(bad.ok());
  EXPECT_CONTAINS(bad.status().message(), "model.safetensors: cannot open");

  // A save that fails midway (a tensor the format cannot hold) leaves the old folder alone.
  ASSERT_TRUE(SaveCheckpoint(dir, Weights(5), {{"v", 5}}).ok());
  auto s = SaveCheckpoint(dir, {{"__metadata__", Full({1}, 1.0)}}, {{"v", 6}});
  ASSERT_FALSE(s.ok());
  auto ckpt = LoadCheckpoint(dir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_EQ(ckpt->config["v"], 5);
  EXPECT_FALSE(fs::exists(absl::StrCat(dir, ".tmp.", getpid())));
}

}  // namespace
}  // namespace kiln::io
