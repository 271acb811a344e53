// The SFT loop (train/sft_trainer.h) on a tiny model folder and a JSONL written by the test: the
// output layout (checkpoints/step_<N> loadable, step 0 the base model, metrics one record per
// step, validation at each checkpoint); exact resume (2N steps == N + resume + N: weights,
// optimizer state, losses, bit for bit); the config and data errors, each one line.
#include "base/thread_pool.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "base/file.h"
#include "gtest/gtest.h"
#include "io/checkpoint.h"
#include "nn/model_io.h"
#include "train/sft_trainer.h"

namespace kiln::train {
namespace {

// The models here are tiny: OpenMP fork/join would cost more than it saves on the shared 2-core CI
// machine, and the bits do not depend on the thread count.
const int kOneThread = [] {
  kiln::SetNumThreads(1);
  return 1;
}();

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    path_ = (fs::temp_directory_path() /
             ("kiln_sft_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++)))
                .string();
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::string path_;
};

// A model folder (tiny GPT-2 or Llama + the byte tokenizer) and a JSONL of arithmetic records.
struct Fixture {
  TempDir dir;
  std::string model, data;
  explicit Fixture(bool gpt2 = true, int n = 12) {
    model = dir.path() + "/base";
    data::ByteTokenizer tok;
    nn::GptModel m(gpt2 ? nn::TinyGpt2Config(262, 32, 2, 4, 96)
                        : nn::TinyLlamaConfig(262, 32, 2, 4, 2, 96));
    m.Init(11);
    EXPECT_TRUE(nn::SaveModel(model, m).ok());
    EXPECT_TRUE(tok.Save(model + "/kiln_tokenizer.json").ok());
    std::string lines;
    for (int i = 0; i < n; ++i) {
      std::string resp = "<think>\n" + std::string(3 + (i * 7) % 30, 'a' + i % 5) + "\n</think>\n" +
                         std::to_string(i * 3);
      lines += Json{{"prompt", "Make " + std::to_string(i * 3) + " from 1 2 3."},
                    {"response", resp},
                    {"task", "countdown"}}
                   .dump() +
               "\n";
    }
    data = dir.path() + "/train.jsonl";
    EXPECT_TRUE(WriteFileAtomic(data, lines).ok());
  }
  SftConfig Config(const std::string& out) const {
    SftConfig c;
    c.model = model;
    c.data.train = data;
    c.data.val_fraction = 0.25;
    c.data.max_len = 64;
    c.data.global_batch = 4;
    c.data.micro_batch = 2;
    c.data.seed = 5;
    c.optim.lr = 3e-3;
    c.optim.warmup_ratio = 0.25;
    c.run.epochs = 2;  // 9 train examples -> 2 steps per epoch -> 4 steps
    c.run.save_steps = {0, 1, 2};
    c.run.out_dir = out;
    return c;
  }
};

std::unique_ptr<SftTrainer> Make(const SftConfig& c) {
  auto t = SftTrainer::Create(c);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? std::move(*t) : nullptr;
}

bool SameTensors(const std::map<std::string, Tensor>& a, const std::map<std::string, Tensor>& b,
                 std::string* which) {
  if (a.size() != b.size()) {
    *which = "tensor count";
    return false;
  }
  for (const auto& [name, t] : a) {
    auto it = b.find(name);
    if (it == b.end()) {
      *which = name + " missing";
      return false;
    }
    auto x = t.ToVector<float>(), y = it->second.ToVector<float>();
    if (x.size() != y.size() || std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) != 0) {
      *which = name;
      return false;
    }
  }
  return true;
}

std::vector<Json> ReadMetrics(const std::string& path) {
  auto recs = ReadJsonl(path);
  EXPECT_TRUE(recs.ok()) << recs.status();
  return recs.ok() ? *recs : std::vector<Json>{};
}

TEST(SftRunTest, WritesTheOutputLayout) {
  Fixture f;
  const std::string out = f.dir.path() + "/run";
  auto t = Make(f.Config(out));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->total_steps(), 4);
  EXPECT_EQ(t->val_set().examples.size(), 3u);
  ASSERT_TRUE(t->Run({.progress = false}).ok());
  for (int n : {0, 1, 2, 4}) {  // the listed steps and the last one
    const std::string dir = out + "/checkpoints/step_" + std::to_string(n);
    auto m = nn::LoadModel(dir);
    EXPECT_TRUE(m.ok()) << dir << ": " << m.status();
    EXPECT_TRUE(fs::exists(dir + "/kiln_tokenizer.json")) << dir;
  }
  EXPECT_FALSE(fs::exists(out + "/checkpoints/step_3"));
  // step_0 is the base model, untouched.
  auto base = nn::LoadModel(f.model);
  auto step0 = nn::LoadModel(out + "/checkpoints/step_0");
  ASSERT_TRUE(base.ok() && step0.ok());
  std::string which;
  EXPECT_TRUE(SameTensors((*base)->StateDict(), (*step0)->StateDict(), &which)) << which;
  auto step4 = nn::LoadModel(out + "/checkpoints/step_4");
  ASSERT_TRUE(step4.ok());
  EXPECT_FALSE(SameTensors((*base)->StateDict(), (*step4)->StateDict(), &which));
  for (const char* file : {"checkpoint/model.safetensors", "checkpoint/optimizer.safetensors",
                           "checkpoint/trainer_state.json", "checkpoint/kiln_tokenizer.json",
                           "metrics.jsonl", "loss.svg", "sft_config.json"}) {
    EXPECT_TRUE(fs::exists(out + "/" + file)) << file;
  }
  auto cfg = ReadJsonFile(out + "/sft_config.json");
  ASSERT_TRUE(cfg.ok());
  auto back = SftConfigFromJson(*cfg);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->ToJson(), f.Config(out).ToJson());
  std::vector<int64_t> train_steps, val_steps;
  for (const Json& m : ReadMetrics(out + "/metrics.jsonl")) {
    if (m["type"] == "train") {
      train_steps.push_back(m["step"].get<int64_t>());
      EXPECT_TRUE(m["loss"].is_number() && m["lr"].is_number() && m["grad_norm"].is_number());
      EXPECT_GT(m["response_tokens"].get<int64_t>(), 0);
    } else if (m["type"] == "val") {
      val_steps.push_back(m["step"].get<int64_t>());
      EXPECT_GT(m["val_loss"].get<double>(), 0);
    }
  }
  EXPECT_EQ(train_steps, (std::vector<int64_t>{1, 2, 3, 4}));
  EXPECT_EQ(val_steps, (std::vector<int64_t>{0, 1, 2, 4}));
}

class SftResumeTest : public ::testing::TestWithParam<std::tuple<bool, bool>> {};

// 2N steps in one go == N steps (stop_after), a new trainer resumed from checkpoint/, N more.
TEST_P(SftResumeTest, ResumeIsBitwise) {
  const auto [gpt2, pack] = GetParam();
  Fixture f(gpt2);
  SftConfig c = f.Config(f.dir.path() + "/whole");
  c.data.pack = pack;
  auto whole = Make(c);
  ASSERT_TRUE(whole);
  ASSERT_TRUE(whole->Run({.progress = false}).ok());

  SftConfig first = c;
  first.run.out_dir = f.dir.path() + "/split";
  first.run.stop_after = 2;
  auto a = Make(first);
  ASSERT_TRUE(a);
  ASSERT_TRUE(a->Run({.progress = false}).ok());
  EXPECT_EQ(a->step(), 2);
  SftConfig second = first;
  second.run.stop_after = 0;
  auto b = SftTrainer::Resume(first.run.out_dir + "/checkpoint", second);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ((*b)->step(), 2);
  ASSERT_TRUE((*b)->Run({.progress = false}).ok());

  std::string which;
  EXPECT_TRUE(SameTensors(whole->model().StateDict(), (*b)->model().StateDict(), &which))
      << which;
  EXPECT_TRUE(SameTensors(whole->optimizer().StateTensors(), (*b)->optimizer().StateTensors(),
                          &which))
      << which;
  EXPECT_EQ(whole->optimizer().StateJson(), (*b)->optimizer().StateJson());
  std::vector<Json> m1 = ReadMetrics(c.run.out_dir + "/metrics.jsonl");
  std::vector<Json> m2 = ReadMetrics(first.run.out_dir + "/metrics.jsonl");
  ASSERT_EQ(m1.size(), m2.size());
  for (size_t i = 0; i < m1.size(); ++i) {
    for (const char* k : {"loss", "val_loss", "grad_norm", "lr"}) {
      if (!m1[i].contains(k)) continue;
      const double x = m1[i][k].get<double>(), y = m2[i][k].get<double>();
      EXPECT_EQ(std::memcmp(&x, &y, sizeof x), 0) << k << " of record " << i;
    }
  }
  for (int n : {0, 1, 2, 4}) {
    const std::string rel = "/checkpoints/step_" + std::to_string(n) + "/model.safetensors";
    auto x = ReadFile(c.run.out_dir + rel), y = ReadFile(first.run.out_dir + rel);
    ASSERT_TRUE(x.ok() && y.ok()) << rel;
    EXPECT_TRUE(*x == *y) << rel;
  }
}

INSTANTIATE_TEST_SUITE_P(Sft, SftResumeTest,
                         ::testing::Values(std::make_tuple(true, false),
                                           std::make_tuple(false, true)));

// run.precision bf16 (mixed precision): the same config twice gives the same bits, and the losses
// are within bf16 rounding of the f32 run's without being equal.
TEST(SftRunTest, Bf16IsDeterministicAndNearF32) {
  Fixture f;
  SftConfig c16 = f.Config(f.dir.path() + "/bf16");
  c16.run.precision = "bf16";
  SftConfig c32 = f.Config(f.dir.path() + "/f32");
  auto a = Make(c16), b = Make(c16), r = Make(c32);
  ASSERT_TRUE(a && b && r);
  for (int i = 0; i < 2; ++i) {
    const SftStepResult x = a->Step(), y = b->Step(), z = r->Step();
    EXPECT_EQ(std::memcmp(&x.loss, &y.loss, sizeof(double)), 0) << "step " << i + 1;
    EXPECT_NE(x.loss, z.loss);
    EXPECT_NEAR(x.loss, z.loss, 1e-2 * z.loss);
  }
  EXPECT_EQ(a->Evaluate(), b->Evaluate());
}

TEST(SftRunTest, ResumeWithAnotherConfigIsRefused) {
  Fixture f;
  SftConfig c = f.Config(f.dir.path() + "/run");
  c.run.stop_after = 1;
  auto t = Make(c);
  ASSERT_TRUE(t && t->Run({.progress = false}).ok());
  SftConfig other = c;
  other.data.normalization = "sum";
  auto r = SftTrainer::Resume(c.run.out_dir + "/checkpoint", other);
  ASSERT_FALSE(r.ok());
  const std::string msg(r.status().message());
  EXPECT_NE(msg.find("cannot resume"), std::string::npos) << msg;
  EXPECT_NE(msg.find("data.normalization"), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
}

// A save killed between its renames leaves checkpoint.old (and a stale .tmp folder); resuming
// loads that, and the step folders already written stay loadable.
TEST(SftRunTest, InterruptedSaveLeavesLastCheckpointLoadable) {
  Fixture f;
  SftConfig c = f.Config(f.dir.path() + "/run");
  c.run.stop_after = 2;
  auto t = Make(c);
  ASSERT_TRUE(t && t->Run({.progress = false}).ok());
  const std::string ck = c.run.out_dir + "/checkpoint";
  fs::rename(ck, ck + ".old");
  fs::create_directories(ck + ".tmp.999999");
  ASSERT_TRUE(WriteFileAtomic(ck + ".tmp.999999/model.safetensors", "partial").ok());
  SftConfig rest = c;
  rest.run.stop_after = 0;
  auto r = SftTrainer::Resume(ck, rest);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->step(), 2);
  EXPECT_TRUE(nn::LoadModel(c.run.out_dir + "/checkpoints/step_2").ok());
}

std::string CreateError(const SftConfig& c) {
  auto t = SftTrainer::Create(c);
  if (t.ok()) {
    ADD_FAILURE() << "expected an error";
    return "";
  }
  std::string msg(t.status().message());
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  return msg;
}

#define EXPECT_HAS(msg, text) EXPECT_NE((msg).find(text), std::string::npos) << (msg)

TEST(SftErrorTest, DatasetLineWithoutResponse) {
  Fixture f;
  std::ofstream(f.data, std::ios::app) << R"({"prompt": "no answer here", "task": "countdown"})"
                                       << "\n";
  EXPECT_HAS(CreateError(f.Config(f.dir.path() + "/o")),
             "train.jsonl:13: field 'response': missing");
}

TEST(SftErrorTest, EmptyResponse) {
  Fixture f;
  std::ofstream(f.data, std::ios::app) << R"({"prompt": "p", "response": ""})" << "\n";
  EXPECT_HAS(CreateError(f.Config(f.dir.path() + "/o")), "train.jsonl:13: field 'response': empty");
}

TEST(SftErrorTest, ModelConfigDisagreesWithWeights) {
  Fixture f;
  auto cfg = ReadJsonFile(f.model + "/config.json");
  ASSERT_TRUE(cfg.ok());
  (*cfg)["n_embd"] = 64;
  ASSERT_TRUE(WriteJsonFile(f.model + "/config.json", *cfg).ok());
  const std::string msg = CreateError(f.Config(f.dir.path() + "/o"));
  EXPECT_HAS(msg, "model: ");
  EXPECT_HAS(msg, "base");
}

TEST(SftErrorTest, MicroBatchMustDivideGlobalBatch) {
  Fixture f;
  Json j = f.Config(f.dir.path() + "/o").ToJson();
  j["data"]["global_batch"] = 6;
  j["data"]["micro_batch"] = 4;
  auto c = SftConfig::FromJson(j, "cfg.json", {{"data.micro_batch", "--micro-batch"}});
  ASSERT_FALSE(c.ok());
  const std::string msg(c.status().message());
  EXPECT_HAS(msg, "field 'data.micro_batch' (set by --micro-batch): 4 does not divide");
  EXPECT_EQ(msg.find('\n'), std::string::npos);
}

TEST(SftErrorTest, LowSupervisedShare) {
  Fixture f;
  std::string lines;
  for (int i = 0; i < 8; ++i) {
    lines += Json{{"prompt", std::string(50, 'p')}, {"response", "y"}}.dump() + "\n";
  }
  ASSERT_TRUE(WriteFileAtomic(f.data, lines).ok());
  SftConfig c = f.Config(f.dir.path() + "/o");
  c.data.min_supervised_share = 0.1;
  EXPECT_HAS(CreateError(c), "below data.min_supervised_share 0.1");
}

TEST(SftErrorTest, ConfigFieldsAreCheckedAndUnknownOnesRefused) {
  auto err = [](const Json& j) {
    auto c = SftConfig::FromJson(j, "cfg.json");
    EXPECT_FALSE(c.ok());
    return std::string(c.status().message());
  };
  Json ok = {{"model", "m"}, {"data", {{"train", "t.jsonl"}}}};
  EXPECT_TRUE(SftConfig::FromJson(ok, "cfg.json").ok());
  Json j = ok;
  j["data"]["packing"] = true;
  EXPECT_HAS(err(j), "unknown field 'data.packing'");
  j = ok;
  j["data"]["normalization"] = "mean";
  EXPECT_HAS(err(j), "field 'data.normalization': expected one of token, sequence, sum");
  j = ok;
  j["run"] = {{"save_steps", {0, -3}}};
  EXPECT_HAS(err(j), "field 'run.save_steps'");
  EXPECT_HAS(err(Json{{"data", {{"train", "t.jsonl"}}}}), "field 'model': missing");
  EXPECT_HAS(err(Json{{"model", "m"}}), "field 'data.train': missing");
  j = ok;
  j["run"] = {{"precision", "fp8"}};
  EXPECT_HAS(err(j), "field 'run.precision': expected f32 or bf16 (bf16: mixed precision), got 'fp8'");
  j["run"] = {{"precision", "bf16"}};
  EXPECT_TRUE(SftConfig::FromJson(j, "cfg.json").ok());
  j = ok;
  j["extra"] = 1;
  EXPECT_HAS(err(j), "unknown field 'extra'");
}

TEST(SftErrorTest, TooFewExamplesForOneBatchAndMaxLenPastPositions) {
  Fixture f(true, 3);
  SftConfig c = f.Config(f.dir.path() + "/o");
  c.data.val_fraction = 0;
  EXPECT_HAS(CreateError(c), "fewer than one global batch");
  Fixture g;
  SftConfig d = g.Config(g.dir.path() + "/o");
  d.data.max_len = 500;
  EXPECT_HAS(CreateError(d), "data.max_len: 500 is more than the model's 96 positions");
  SftConfig e = g.Config(g.dir.path() + "/o2");
  e.run.steps = 4;
  e.run.save_steps = {0, 2, 9};
  EXPECT_HAS(CreateError(e), "run.save_steps: step 9 is beyond the 4 steps of the run");
}

}  // namespace
}  // namespace kiln::train
