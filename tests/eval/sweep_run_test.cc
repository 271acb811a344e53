// Checkpoint sweeps end to end: a fabricated run folder with three tiny checkpoints (steps 0, 10,
// 160) gives the table, the JSON files and the SVGs, all parseable; the summary agrees with
// SummarizeSweep on the per-checkpoint scores; folders without checkpoints are one-line errors.
// Also rejection-sampled data from a tiny model (shape and acceptance accounting).
#include <filesystem>

#include "base/file.h"
#include "data/tokenizer.h"
#include "eval/sample_data.h"
#include "eval/sweep.h"
#include "eval/sweep_run.h"
#include "gtest/gtest.h"
#include "nn/model_io.h"

namespace kiln::eval {
namespace {

namespace fs = std::filesystem;

void SaveTiny(const std::string& dir, uint64_t seed) {
  data::ByteTokenizer tok;
  nn::GptModel model(nn::TinyGpt2Config(tok.vocab_size(), 32, 1, 4, 640));
  model.Init(seed);
  ASSERT_TRUE(nn::SaveModel(dir, model).ok());
  ASSERT_TRUE(tok.Save(dir + "/kiln_tokenizer.json").ok());
}

std::string FreshDir(const std::string& name) {
  const fs::path p = fs::path(::testing::TempDir()) / name;
  fs::remove_all(p);
  fs::create_directories(p);
  return p.string();
}

TEST(Sweep, FindCheckpointsSortsNumericallyAndIgnoresOthers) {
  const std::string run = FreshDir("sweep_find");
  for (const char* d : {"step_160", "step_0", "step_20", "step_x", "step_", "other", "step_5.tmp"}) {
    fs::create_directories(run + "/checkpoints/" + d);
  }
  auto c = FindCheckpoints(run);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->size(), 3u);
  EXPECT_EQ((*c)[0].step, 0);
  EXPECT_EQ((*c)[1].step, 20);
  EXPECT_EQ((*c)[2].step, 160);
  EXPECT_EQ(PlotStep(0, {0, 20, 160}), 10.0);
  EXPECT_EQ(PlotStep(20, {0, 20, 160}), 20.0);
  EXPECT_EQ(PlotStep(0, {0}), 1.0);
}

TEST(Sweep, FoldersWithoutCheckpointsAreOneLineErrors) {
  const std::string empty = FreshDir("sweep_empty");
  auto a = FindCheckpoints(empty);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().message(),
            "--sweep: " + empty + ": no checkpoints (expected model folders " + empty +
                "/checkpoints/step_<N>/)");
  fs::create_directories(empty + "/checkpoints/notes");
  EXPECT_FALSE(FindCheckpoints(empty).ok());
  auto missing = FindCheckpoints(empty + "/nope");
  EXPECT_EQ(missing.status().message(), "--sweep: " + empty + "/nope: not a folder");
  // One checkpoint is not a sweep.
  SaveTiny(empty + "/checkpoints/step_0", 1);
  EvalConfig c;
  c.suites = {"safety"};
  c.n_prompts = 1;
  c.k = 1;
  auto one = RunSweep(empty, c, "", true);
  ASSERT_FALSE(one.ok());
  EXPECT_NE(one.status().message().find("a sweep needs at least two"), std::string::npos);
}

TEST(Sweep, ThreeCheckpointsEndToEnd) {
  const std::string run = FreshDir("sweep_run");
  SaveTiny(run + "/checkpoints/step_0", 1);
  SaveTiny(run + "/checkpoints/step_10", 2);
  SaveTiny(run + "/checkpoints/step_160", 3);
  EvalConfig c;
  c.suites = {"instruction", "safety"};  // short prompts: fast under ASan
  c.n_prompts = 2;
  c.k = 2;
  c.max_new_tokens = 8;
  c.temperature = 1.0;
  c.bootstrap_resamples = 100;
  auto summary = RunSweep(run, c, "", /*quiet=*/true);
  ASSERT_TRUE(summary.ok()) << summary.status();
  const std::string out = run + "/eval";
  for (const char* f : {"sweep.md", "sweep.json", "sweep_summary.json", "sweep_score.svg",
                        "sweep_length.svg", "step_0/results.json", "step_10/samples.jsonl",
                        "step_160/results.json"}) {
    EXPECT_TRUE(fs::exists(out + "/" + f)) << f;
  }
  auto md = ReadFile(out + "/sweep.md");
  ASSERT_TRUE(md.ok());
  EXPECT_NE(md->find("| step"), std::string::npos);
  EXPECT_NE(md->find("instruction avg@2"), std::string::npos);
  EXPECT_NE(md->find("sweep_score.svg"), std::string::npos);
  for (const char* svg : {"sweep_score.svg", "sweep_length.svg"}) {
    auto s = ReadFile(out + "/" + svg);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->rfind("<svg", 0), 0u) << svg;
    EXPECT_NE(s->find("</svg>"), std::string::npos);
    EXPECT_NE(s->find("safety"), std::string::npos);  // legend
  }
  auto sweep = ReadJsonFile(out + "/sweep.json");
  ASSERT_TRUE(sweep.ok());
  EXPECT_EQ((*sweep)["steps"], Json({0, 10, 160}));
  ASSERT_EQ((*sweep)["suites"]["instruction"].size(), 3u);
  auto file_summary = ReadJsonFile(out + "/sweep_summary.json");
  ASSERT_TRUE(file_summary.ok());
  EXPECT_EQ(*file_summary, *summary);
  // The summary is SummarizeSweep of the per-checkpoint scores.
  for (const char* suite : {"instruction", "safety"}) {
    std::vector<double> scores;
    for (const Json& s : (*sweep)["suites"][suite]) {
      scores.push_back(s["metrics"]["avg@k"]["mean"].get<double>());
    }
    auto expect = SummarizeSweep({0, 10, 160}, scores);
    const Json& got = (*summary)[suite];
    EXPECT_DOUBLE_EQ(got["baseline"].get<double>(), expect->baseline);
    EXPECT_DOUBLE_EQ(got["dip_depth"].get<double>(), expect->dip_depth);
    EXPECT_EQ(got["min_step"].get<int64_t>(), expect->min_step);
    EXPECT_DOUBLE_EQ(got["final_gain"].get<double>(), expect->final_gain);
    EXPECT_EQ(got["consecutive"].size(), 2u);
    EXPECT_DOUBLE_EQ(got["final_vs_baseline"]["mean"].get<double>(), expect->final_gain);
  }
  // Every checkpoint used the same prompts and seeds.
  auto r0 = ReadJsonFile(out + "/step_0/results.json");
  auto r2 = ReadJsonFile(out + "/step_160/results.json");
  EXPECT_EQ((*r0)["prompt_sets"], (*r2)["prompt_sets"]);
  EXPECT_EQ((*r0)["seeds"], (*r2)["seeds"]);
  EXPECT_NE((*r0)["checkpoint_hash"], (*r2)["checkpoint_hash"]);
}

TEST(SampleData, AcceptanceAccountingOnATinyModel) {
  const std::string dir = FreshDir("sample_model");
  SaveTiny(dir, 4);
  auto model = nn::LoadModel(dir);
  ASSERT_TRUE(model.ok());
  data::ByteTokenizer tok;
  SampleDataOptions o;
  o.tasks = {"countdown"};
  o.n = 3;
  o.k = 2;
  o.sampling.max_new_tokens = 8;
  auto r = SampleDataset(**model, tok, o, true);
  ASSERT_TRUE(r.ok()) << r.status();
  const data::TeacherStats& s = r->by_task.at("countdown");
  EXPECT_EQ(s.prompts, 3);
  EXPECT_EQ(s.samples, 6);
  EXPECT_EQ(r->samples, 6);
  // A random model verifies nothing in 8 tokens; every kept record would be verified.
  EXPECT_EQ(static_cast<int64_t>(r->records.size()), s.records);
  for (const auto& rec : r->records) EXPECT_TRUE(rec.verified);
  Json a = AcceptanceJson(*r);
  EXPECT_EQ(a["tasks"]["countdown"]["samples"], 6);
  o.tasks = {"sorting"};  // not SFT-eligible
  auto bad = SampleDataset(**model, tok, o, true);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind("--task", 0), 0u) << bad.status();
  o.tasks = {"countdown"};
  o.k = 0;
  EXPECT_EQ(SampleDataset(**model, tok, o, true).status().message(), "--k: must be >= 1, got 0");
}

}  // namespace
}  // namespace kiln::eval
