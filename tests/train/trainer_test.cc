// The training loop: exact resume (2N steps == N steps, save, resume, N steps: same weights,
// optimizer state and losses, bit for bit) for GPT-2 and Llama, with shuffle, gradient
// accumulation and warmup + cosine; same config twice gives the same bits; accumulation matches a
// larger batch up to rounding; internals logged and sane; hooks called; validation loss; run
// config errors are one line naming the field; resuming with another config is refused.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "autograd/api.h"
#include "base/file.h"
#include "gtest/gtest.h"
#include "io/checkpoint.h"
#include "nn/model_io.h"
#include "train/internals.h"
#include "train/trainer.h"

namespace kiln::train {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    path_ = (fs::temp_directory_path() /
             ("kiln_train_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++)))
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

// A few KB of varied text (deterministic).
std::string Corpus() {
  std::string s;
  const char* words[] = {"the", "model", "learns", "a", "small", "language", "of", "numbers",
                         "and", "words", "from", "bytes", "kiln", "trains", "it", "exactly"};
  uint64_t x = 12345;
  for (int i = 0; i < 900; ++i) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    s += words[(x >> 33) % 16];
    s += (i % 11 == 10) ? ".\n" : " ";
  }
  return s;
}

struct Fixture {
  TempDir dir;
  std::string text_path;
  Fixture() {
    text_path = dir.path() + "/corpus.txt";
    EXPECT_TRUE(WriteFileAtomic(text_path, Corpus()).ok());
  }
};

TrainConfig Tiny(const std::string& text, bool gpt2, int64_t accum, int64_t steps) {
  TrainConfig c;
  Json m = gpt2 ? nn::TinyGpt2Config(262, 32, 2, 4, 16).ToJson()
                : nn::TinyLlamaConfig(262, 32, 2, 4, 2, 16).ToJson();
  c.model = m;
  c.data.text = {text};
  c.data.seq_len = 16;
  c.data.batch_size = 2;
  c.data.grad_accum = accum;
  c.data.shuffle = true;
  c.data.seed = 3;
  c.data.val_batches = 2;
  c.optim.lr = 3e-3;
  c.optim.warmup_steps = 2;
  c.optim.schedule = "cosine";
  c.optim.min_ratio = 0.1;
  c.optim.clip = 1.0;
  c.run.steps = steps;
  c.run.eval_every = 2;
  c.run.log_every = 1;
  c.run.seed = 5;
  return c;
}

std::unique_ptr<Trainer> Make(const TrainConfig& c) {
  auto t = Trainer::Create(c);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? std::move(*t) : nullptr;
}

bool SameBits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

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

struct ResumeCase {
  bool gpt2;
  int64_t accum;
  const char* optimizer;
};

class ResumeTest : public ::testing::TestWithParam<ResumeCase> {};

// 2N steps in one go == N steps, checkpoint, a new trainer resumed from it, N more steps.
TEST_P(ResumeTest, ResumeEqualsUninterrupted) {
  const ResumeCase rc = GetParam();
  Fixture f;
  const int64_t n = 2;
  TrainConfig c = Tiny(f.text_path, rc.gpt2, rc.accum, 2 * n);
  c.optim.name = rc.optimizer;
  if (c.optim.name == "sgd") {
    c.optim.momentum = 0.9;
    c.optim.lr = 0.05;
  }
  auto whole = Make(c);
  ASSERT_TRUE(whole);
  std::vector<StepResult> a;
  for (int64_t i = 0; i < 2 * n; ++i) a.push_back(whole->Step());

  auto first = Make(c);
  ASSERT_TRUE(first);
  std::vector<StepResult> b;
  for (int64_t i = 0; i < n; ++i) b.push_back(first->Step());
  const std::string ckpt = f.dir.path() + "/ckpt";
  ASSERT_TRUE(first->Save(ckpt).ok());
  first.reset();
  auto resumed = Trainer::Resume(ckpt, c);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_EQ((*resumed)->step(), n);
  for (int64_t i = 0; i < n; ++i) b.push_back((*resumed)->Step());

  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].step, b[i].step);
    EXPECT_TRUE(SameBits(a[i].loss, b[i].loss)) << "step " << i + 1 << ": " << a[i].loss
                                                << " vs " << b[i].loss;
    EXPECT_TRUE(SameBits(a[i].lr, b[i].lr)) << "step " << i + 1;
    EXPECT_TRUE(SameBits(a[i].grad_norm, b[i].grad_norm)) << "step " << i + 1;
  }
  std::string which;
  EXPECT_TRUE(SameTensors(whole->model().StateDict(), (*resumed)->model().StateDict(), &which))
      << "weights differ: " << which;
  EXPECT_TRUE(SameTensors(whole->optimizer().StateTensors(),
                          (*resumed)->optimizer().StateTensors(), &which))
      << "optimizer state differs: " << which;
  EXPECT_EQ(whole->optimizer().StateJson(), (*resumed)->optimizer().StateJson());
  EXPECT_EQ(whole->train_loader().CursorJson(), (*resumed)->train_loader().CursorJson());
  // The schedule really warmed up and decays (not a constant lr hiding schedule bugs).
  EXPECT_EQ(a[0].lr, 0.0);
  EXPECT_GT(a[2].lr, a[3].lr);
}

INSTANTIATE_TEST_SUITE_P(Train, ResumeTest,
                         ::testing::Values(ResumeCase{true, 1, "adamw"},
                                           ResumeCase{true, 2, "adamw"},
                                           ResumeCase{false, 1, "adamw"},
                                           ResumeCase{false, 2, "adamw"},
                                           ResumeCase{false, 2, "sgd"}),
                         [](const auto& info) {
                           return std::string(info.param.gpt2 ? "Gpt2" : "Llama") + "Accum" +
                                  std::to_string(info.param.accum) + info.param.optimizer;
                         });

// The whole run path (Run with files): stop_after N, resume from out_dir/checkpoint, continue;
// the final checkpoint's weight and optimizer files are byte-identical to an uninterrupted run's,
// and so are the logged losses.
// Runs c until c.run.stop_after (> 0) steps, then resumes from its checkpoint and runs to the end;
// returns the resumed trainer (null after a failure, which is reported).
std::unique_ptr<Trainer> StopThenResume(TrainConfig c) {
  auto part = Make(c);
  EXPECT_TRUE(part);
  if (!part) return nullptr;
  EXPECT_TRUE(part->Run({.progress = false}).ok());
  EXPECT_EQ(part->step(), c.run.stop_after);
  c.run.stop_after = 0;
  auto rest = Trainer::Resume(c.run.out_dir + "/checkpoint", c);
  EXPECT_TRUE(rest.ok()) << rest.status();
  if (!rest.ok()) return nullptr;
  EXPECT_TRUE((*rest)->Run({.progress = false}).ok());
  return std::move(*rest);
}

TEST(TrainRunTest, StopAndResumeThroughRunGivesIdenticalFiles) {
  Fixture f;
  TrainConfig c = Tiny(f.text_path, true, 2, 4);
  c.run.log_internals = true;  // reading internals must not change the bits either
  c.run.out_dir = f.dir.path() + "/whole";
  auto whole = Make(c);
  ASSERT_TRUE(whole);
  ASSERT_TRUE(whole->Run({.progress = false}).ok());

  TrainConfig c2 = c;
  c2.run.out_dir = f.dir.path() + "/split";
  c2.run.stop_after = 2;
  c2.run.log_internals = false;
  std::unique_ptr<Trainer> rest = StopThenResume(c2);
  ASSERT_TRUE(rest);
  EXPECT_EQ(rest->step(), 4);

  for (const char* file : {"model.safetensors", "optimizer.safetensors", "config.json",
                           "kiln_tokenizer.json"}) {
    auto x = ReadFile(c.run.out_dir + "/checkpoint/" + file);
    auto y = ReadFile(c2.run.out_dir + "/checkpoint/" + file);
    ASSERT_TRUE(x.ok() && y.ok()) << file;
    EXPECT_TRUE(*x == *y) << file << " differs";
  }
  auto losses = [](const std::vector<Json>& metrics, const char* type, const char* key) {
    std::vector<double> v;
    for (const Json& m : metrics) {
      if (m["type"] == type) v.push_back(m[key].get<double>());
    }
    return v;
  };
  auto la = losses(whole->metrics(), "train", "loss");
  auto lb = losses(rest->metrics(), "train", "loss");
  ASSERT_EQ(la.size(), 4u);
  ASSERT_EQ(la.size(), lb.size());
  for (size_t i = 0; i < la.size(); ++i) EXPECT_TRUE(SameBits(la[i], lb[i])) << "step " << i + 1;
  auto va = losses(whole->metrics(), "val", "val_loss");
  auto vb = losses(rest->metrics(), "val", "val_loss");
  ASSERT_EQ(va.size(), 2u);  // eval_every 2 over 4 steps
  ASSERT_EQ(va.size(), vb.size());
  for (size_t i = 0; i < va.size(); ++i) EXPECT_TRUE(SameBits(va[i], vb[i]));

  // The files a run leaves: metrics (the resumed run's file has every record, the restored ones
  // first), the loss plot, and a checkpoint that nn::LoadModel opens.
  auto lines = ReadJsonl(c2.run.out_dir + "/metrics.jsonl");
  ASSERT_TRUE(lines.ok()) << lines.status();
  EXPECT_EQ(lines->size(), rest->metrics().size());
  EXPECT_EQ(losses(*lines, "train", "loss").size(), 4u);
  auto svg = ReadFile(c2.run.out_dir + "/loss.svg");
  ASSERT_TRUE(svg.ok());
  EXPECT_NE(svg->find("validation loss"), std::string::npos);
  auto model = nn::LoadModel(c2.run.out_dir + "/checkpoint");
  ASSERT_TRUE(model.ok()) << model.status();
  std::string which;
  EXPECT_TRUE(SameTensors((*model)->StateDict(), whole->model().StateDict(), &which)) << which;
}

TEST(TrainRunTest, SameConfigTwiceSameBits) {
  Fixture f;
  TrainConfig c = Tiny(f.text_path, false, 2, 4);
  auto x = Make(c), y = Make(c);
  ASSERT_TRUE(x && y);
  for (int i = 0; i < 4; ++i) {
    StepResult a = x->Step(), b = y->Step();
    EXPECT_TRUE(SameBits(a.loss, b.loss));
    EXPECT_TRUE(SameBits(a.grad_norm, b.grad_norm));
  }
  std::string which;
  EXPECT_TRUE(SameTensors(x->model().StateDict(), y->model().StateDict(), &which)) << which;
  EXPECT_TRUE(SameBits(x->Evaluate(), y->Evaluate()));
}

// k micro-batches of B == one batch of k*B (sequential order: the same windows), up to rounding.
TEST(TrainRunTest, AccumulationMatchesLargerBatch) {
  Fixture f;
  TrainConfig c = Tiny(f.text_path, true, 2, 3);
  c.data.shuffle = false;
  c.optim.clip = 0;
  TrainConfig big = c;
  big.data.grad_accum = 1;
  big.data.batch_size = 4;
  big.data.val_batches = 1;  // the same validation tokens: 2 x 2 windows == 1 x 4
  auto x = Make(c), y = Make(big);
  ASSERT_TRUE(x && y);
  for (int i = 0; i < 3; ++i) {
    StepResult a = x->Step(), b = y->Step();
    EXPECT_EQ(a.tokens, b.tokens);
    EXPECT_NEAR(a.loss, b.loss, 1e-5) << "step " << i + 1;
    EXPECT_NEAR(a.grad_norm, b.grad_norm, 1e-4 * b.grad_norm) << "step " << i + 1;
  }
  auto sa = x->model().StateDict(), sb = y->model().StateDict();
  for (const auto& [name, t] : sa) {
    auto u = t.ToVector<float>(), v = sb.at(name).ToVector<float>();
    for (size_t k = 0; k < u.size(); ++k) ASSERT_NEAR(u[k], v[k], 1e-4) << name << "[" << k << "]";
  }
}

TEST(TrainRunTest, ValidationLossIsComputedAndFalls) {
  Fixture f;
  TrainConfig c = Tiny(f.text_path, true, 1, 12);
  c.optim.lr = 1e-2;
  auto t = Make(c);
  ASSERT_TRUE(t);
  ASSERT_TRUE(t->has_validation());
  const double v0 = t->Evaluate();
  EXPECT_NEAR(v0, std::log(262.0), 0.5);  // about uniform at initialization
  EXPECT_TRUE(SameBits(v0, t->Evaluate()));  // evaluation changes nothing
  ASSERT_TRUE(t->Run({.progress = false, .write_files = false}).ok());
  int vals = 0;
  double last = NAN;
  for (const Json& m : t->metrics()) {
    if (m["type"] == "val") {
      ++vals;
      last = m["val_loss"].get<double>();
    }
  }
  EXPECT_EQ(vals, 6);  // eval_every 2
  EXPECT_LT(last, v0 - 0.5);

  TrainConfig none = c;
  none.data.val_batches = 0;
  auto u = Make(none);
  ASSERT_TRUE(u);
  EXPECT_FALSE(u->has_validation());
  EXPECT_TRUE(std::isnan(u->Evaluate()));
}

TEST(InternalsTest, LayerNormsAndActivationStatsAreLoggedAndSane) {
  Fixture f;
  TrainConfig c = Tiny(f.text_path, true, 1, 3);
  c.run.log_internals = true;
  c.run.log_every = 2;  // internals at steps 1, 2 and 3 (first, every 2, last)
  auto t = Make(c);
  ASSERT_TRUE(t);
  ASSERT_TRUE(t->Run({.progress = false, .write_files = false}).ok());
  std::vector<Json> recs;
  for (const Json& m : t->metrics()) {
    if (m["type"] == "internals") recs.push_back(m);
  }
  ASSERT_EQ(recs.size(), 3u);
  const Json& r = recs[1];
  EXPECT_EQ(r["step"], 2);
  for (const char* layer : {"wte", "wpe", "h.0", "h.1", "ln_f"}) {
    ASSERT_TRUE(r["layers"].contains(layer)) << layer << " in " << r["layers"].dump();
    const Json& l = r["layers"][layer];
    EXPECT_GT(l["weight_norm"].get<double>(), 0) << layer;
    EXPECT_GT(l["grad_norm"].get<double>(), 0) << layer;
    EXPECT_GT(l["update_norm"].get<double>(), 0) << layer;
    EXPECT_LT(l["update_ratio"].get<double>(), 0.5) << layer;
    EXPECT_GT(l["params"].get<int64_t>(), 0) << layer;
  }
  int64_t params = 0;
  for (const auto& [k, l] : r["layers"].items()) params += l["params"].get<int64_t>();
  EXPECT_EQ(params, t->model().NumParameters());
  const Json& acts = r["activations"];
  for (const char* m : {"h.0", "h.0.attn", "h.0.mlp", "h.1.ln_2", "ln_f", "wte"}) {
    ASSERT_TRUE(acts.contains(m)) << m << " in " << acts.dump();
    const Json& a = acts[m];
    EXPECT_GT(a["std"].get<double>(), 0) << m;
    EXPECT_GE(a["max_abs"].get<double>(), std::fabs(a["mean"].get<double>())) << m;
    // GELU / LayerNorm / attention outputs of a ReLU-free model are (almost) never exactly 0.
    EXPECT_LT(a["zero_frac"].get<double>(), 0.01) << m;
    EXPECT_GT(a["n"].get<int64_t>(), 0) << m;
  }
  EXPECT_EQ(acts["h.0.mlp"]["type"], "Mlp");
  // Backward hooks saw the gradients of block outputs.
  EXPECT_GT(acts["h.0"].value("grad_norm", 0.0), 0) << acts["h.0"].dump();
  // A LayerNorm output over C features has mean ~0 and std ~1 at init (weight 1, bias 0).
  EXPECT_NEAR(recs[0]["activations"]["h.0.ln_1"]["mean"].get<double>(), 0, 1e-3);
  EXPECT_NEAR(recs[0]["activations"]["h.0.ln_1"]["std"].get<double>(), 1, 1e-2);

  // Layer names for both families.
  EXPECT_EQ(LayerOf("h.3.attn.c_attn.weight"), "h.3");
  EXPECT_EQ(LayerOf("model.layers.12.mlp.up_proj.weight"), "model.layers.12");
  EXPECT_EQ(LayerOf("model.embed_tokens.weight"), "model.embed_tokens");
  EXPECT_EQ(LayerOf("lm_head.weight"), "lm_head");
  TensorStats s = ComputeStats(FromVector<float>({0, 0, 3, -4}, {4}));
  EXPECT_EQ(s.zero_frac, 0.5);
  EXPECT_EQ(s.max_abs, 4);
  EXPECT_EQ(s.mean, -0.25);
  EXPECT_DOUBLE_EQ(s.rms, 2.5);
}

TEST(InternalsTest, ModuleHooksAreCalledDuringTraining) {
  Fixture f;
  TrainConfig c = Tiny(f.text_path, false, 2, 2);
  auto t = Make(c);
  ASSERT_TRUE(t);
  std::map<std::string, int> fwd, bwd;
  int h1 = t->model().AddForwardHook(
      [&](const std::string& name, const nn::Module&, const Tensor&) { ++fwd[name]; });
  int h2 = t->model().AddBackwardHook(
      [&](const std::string& name, const nn::Module&, const Tensor& g) {
        EXPECT_TRUE(g.defined());
        ++bwd[name];
      });
  t->Step();
  EXPECT_EQ(fwd["model.layers.0.mlp"], 2);  // once per micro-batch
  EXPECT_EQ(fwd["model.layers.1.self_attn"], 2);
  EXPECT_EQ(bwd["model.layers.0"], 2);
  EXPECT_EQ(bwd["model.layers.1.mlp"], 2);
  t->model().RemoveHook(h1);
  t->model().RemoveHook(h2);
  t->Step();
  EXPECT_EQ(fwd["model.layers.0.mlp"], 2);  // removed: not called again
}

TEST(InternalsTest, RecorderCountsOnlyWhileEnabled) {
  nn::GptModel m(nn::TinyGpt2Config(50, 16, 1, 2, 8));
  m.Init(1);
  ActivationRecorder rec(m);
  Tensor ids = FromVector<int32_t>({1, 2, 3, 4}, {1, 4});
  m.Forward({ids});
  EXPECT_EQ(rec.forward_calls(), 0);
  rec.SetEnabled(true);
  Backward(Sum(m.Forward({ids})));
  EXPECT_GT(rec.forward_calls(), 5);
  EXPECT_GT(rec.backward_calls(), 5);
  EXPECT_TRUE(rec.ToJson().contains("h.0.attn"));
}

std::string ConfigError(const std::string& text,
                        const std::map<std::string, std::string>& flag_of = {}) {
  auto j = ParseJson(text, "cfg.json");
  EXPECT_TRUE(j.ok());
  auto c = TrainConfig::FromJson(*j, "cfg.json", flag_of);
  EXPECT_FALSE(c.ok()) << text;
  std::string msg(c.status().message());
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  return msg;
}

TEST(TrainConfigTest, FieldErrorsAreOneLineNamingTheField) {
  const std::string data = R"("data": {"text": ["a.txt"]})";
  EXPECT_EQ(ConfigError("{" + data + R"(, "optim": {"lr": "fast"}})"),
            "cfg.json: field 'optim.lr': expected a number, got \"fast\"");
  EXPECT_EQ(ConfigError("{" + data + R"(, "optim": {"lr": 0}})", {{"optim.lr", "--lr"}}),
            "cfg.json: field 'optim.lr' (set by --lr): must be > 0, got 0");
  EXPECT_EQ(ConfigError(R"({"data": {"text": ["a.txt"], "batch_size": 2.5}})"),
            "cfg.json: field 'data.batch_size': expected an integer, got 2.5");
  EXPECT_EQ(ConfigError(R"({"data": {"text": ["a.txt"], "seq_len": 0}})"),
            "cfg.json: field 'data.seq_len': must be in [1, 1048576], got 0");
  EXPECT_EQ(ConfigError(R"({"data": {"text": "a.txt", "shuffle": "yes"}})"),
            "cfg.json: field 'data.shuffle': expected true or false, got \"yes\"");
  EXPECT_EQ(ConfigError(R"({"data": {"text": [1]}})"),
            "cfg.json: field 'data.text': expected a list of file names, got an element 1");
  EXPECT_EQ(ConfigError("{" + data + R"(, "run": {"stpes": 5}})").substr(0, 40),
            "cfg.json: unknown field 'run.stpes' (kno");
  EXPECT_EQ(ConfigError("{" + data + R"(, "optim": {"betas": [0.9]}})"),
            "cfg.json: field 'optim.betas': expected two numbers [beta1, beta2], got [0.9]");
  EXPECT_EQ(ConfigError("{" + data + R"(, "optim": {"name": "adam"}})"),
            "cfg.json: field 'optim.name': expected one of adamw, sgd, got \"adam\"");
  EXPECT_EQ(ConfigError("{" + data + R"(, "run": 5})"),
            "cfg.json: field 'run': expected an object, got 5");
  EXPECT_EQ(ConfigError("{" + data + R"(, "model": 3})"),
            "cfg.json: field 'model': expected a preset name, a config.json path or a config "
            "object, got 3");
  EXPECT_EQ(ConfigError(R"({"data": {}})"),
            "cfg.json: field 'data.text': no training data: give text files (data.text, --data) "
            "or token files (data.tokens, --tokens)");
  EXPECT_EQ(ConfigError("{" + data + R"(, "run": {"precision": "fp16"}})", {{"run.precision", "--precision"}}),
            "cfg.json: field 'run.precision' (set by --precision): expected f32 or bf16 (bf16: "
            "mixed precision), got 'fp16'");
  EXPECT_EQ(ConfigError(R"({"dataa": {}})"),
            "cfg.json: unknown field 'dataa' (known: model, data, optim, run)");

  // A valid config round-trips through ToJson.
  auto ok = TrainConfig::FromJson(*ParseJson("{" + data + "}", "x"), "x");
  ASSERT_TRUE(ok.ok()) << ok.status();
  auto again = TrainConfig::FromJson(ok->ToJson(), "x");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->ToJson(), ok->ToJson());
}

TEST(TrainConfigTest, ModelResolution) {
  auto g = ResolveModelConfig("gpt2-tiny", 262, 64, "cfg");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->vocab_size, 262);
  EXPECT_EQ(g->max_positions, 64);
  auto l = ResolveModelConfig("llama-tiny", 300, 32, "cfg");
  ASSERT_TRUE(l.ok());
  EXPECT_FALSE(l->is_gpt2());
  // An HF object may leave out the vocabulary and positions.
  auto o = ResolveModelConfig(Json{{"model_type", "gpt2"}, {"n_embd", 32}, {"n_layer", 1},
                                   {"n_head", 2}},
                              262, 16, "cfg");
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->vocab_size, 262);
  EXPECT_EQ(o->max_positions, 16);
  auto small = ResolveModelConfig(nn::TinyGpt2Config(100, 32, 1, 2, 16).ToJson(), 262, 16, "cfg");
  ASSERT_FALSE(small.ok());
  EXPECT_EQ(small.status().message(),
            "cfg: model: field 'vocab_size': 100 is smaller than the tokenizer's vocabulary (262)");
  auto short_pos =
      ResolveModelConfig(nn::TinyLlamaConfig(262, 32, 1, 2, 1, 8).ToJson(), 262, 16, "cfg");
  ASSERT_FALSE(short_pos.ok());
  EXPECT_EQ(short_pos.status().message(),
            "cfg: model: field 'max_position_embeddings': 8 positions cannot hold data.seq_len 16");
  auto unknown = ResolveModelConfig("gpt5", 262, 16, "cfg");
  EXPECT_EQ(unknown.status().message(),
            "cfg: field 'model': unknown preset 'gpt5' (known: gpt2-tiny, llama-tiny; or a path to "
            "a config.json)");
}

TEST(TrainRunTest, ResumeWithAnotherConfigIsRefused) {
  Fixture f;
  TrainConfig c = Tiny(f.text_path, true, 1, 4);
  auto t = Make(c);
  ASSERT_TRUE(t);
  t->Step();
  const std::string ckpt = f.dir.path() + "/ckpt";
  ASSERT_TRUE(t->Save(ckpt).ok());

  TrainConfig other = c;
  other.optim.lr = 1e-2;
  auto r = Trainer::Resume(ckpt, other);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(std::string(r.status().message()),
            ckpt + "/trainer_state.json: cannot resume: the run config differs from the "
                   "checkpoint's: 'optim.lr' is 0.003 vs 0.01 (checkpoint vs now); only "
                   "run.out_dir, log_every, eval_every, save_every, threads, stop_after and "
                   "log_internals may change");
  TrainConfig wider = c;
  wider.model = nn::TinyGpt2Config(262, 64, 2, 4, 16).ToJson();
  r = Trainer::Resume(ckpt, wider);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("'model.n_embd' is 32 vs 64"),
            std::string::npos)
      << r.status();
  // Fields outside the identity may change.
  TrainConfig relog = c;
  relog.run.log_every = 7;
  relog.run.out_dir = "elsewhere";
  EXPECT_TRUE(Trainer::Resume(ckpt, relog).ok());

  // A plain model folder is not a training checkpoint.
  ASSERT_TRUE(nn::SaveModel(f.dir.path() + "/model_only", t->model()).ok());
  r = Trainer::Resume(f.dir.path() + "/model_only", c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("not a training checkpoint"),
            std::string::npos)
      << r.status();
}

// bf16 mixed precision (run.precision): exact resume holds as in f32, the losses are within bf16
// rounding of the f32 run's and not equal to them, and a bf16 checkpoint does not resume as f32.
TEST(TrainRunTest, Bf16StopAndResumeIsBitwiseAndPrecisionIsPartOfTheRun) {
  Fixture f;
  TrainConfig c = Tiny(f.text_path, false, 1, 4);
  c.run.precision = "bf16";
  c.run.out_dir = f.dir.path() + "/whole";
  auto whole = Make(c);
  ASSERT_TRUE(whole);
  ASSERT_TRUE(whole->Run({.progress = false}).ok());
  TrainConfig c2 = c;
  c2.run.out_dir = f.dir.path() + "/split";
  c2.run.stop_after = 2;
  std::unique_ptr<Trainer> rest = StopThenResume(c2);
  ASSERT_TRUE(rest);
  std::string which;
  EXPECT_TRUE(SameTensors(rest->model().StateDict(), whole->model().StateDict(), &which))
      << which;

  TrainConfig f32 = c;
  f32.run.precision = "f32";
  f32.run.out_dir = f.dir.path() + "/f32";
  auto x = Make(f32), y = Make(c);
  ASSERT_TRUE(x && y);
  const StepResult a = x->Step(), b = y->Step();
  EXPECT_NE(a.loss, b.loss);
  EXPECT_NEAR(b.loss, a.loss, 1e-2 * a.loss);

  TrainConfig bad = c;  // a config not read through FromJson is checked by Create
  bad.run.precision = "f16";
  auto made = Trainer::Create(bad);
  ASSERT_FALSE(made.ok());
  EXPECT_EQ(std::string(made.status().message()),
            "run.precision: expected f32 or bf16 (bf16: mixed precision), got 'f16'");
  auto r = Trainer::Resume(c.run.out_dir + "/checkpoint", f32);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("run.precision"), std::string::npos)
      << r.status();
}

TEST(TrainRunTest, DataErrorsNameTheFile) {
  Fixture f;
  TrainConfig c = Tiny(f.dir.path() + "/missing.txt", true, 1, 2);
  auto t = Trainer::Create(c);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(std::string(t.status().message()).find("missing.txt"), std::string::npos)
      << t.status();
  TrainConfig big = Tiny(f.text_path, true, 1, 2);
  big.data.val_batches = 1000;
  t = Trainer::Create(big);
  ASSERT_FALSE(t.ok());
  EXPECT_NE(std::string(t.status().message()).find("data.val_batches 1000"), std::string::npos)
      << t.status();
}

}  // namespace
}  // namespace kiln::train
