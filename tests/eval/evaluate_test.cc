// `kiln eval` as a library: prompts, the unclosed-<think> rule, scoring and aggregation of fixed
// responses (hand-computed metrics), safety rates, config errors; and end to end on a tiny random
// model: the same samples for batch sizes 1 and 16, output files that parse, a bad model folder.
#include <filesystem>

#include "base/file.h"
#include "data/tokenizer.h"
#include "eval/evaluate.h"
#include "gtest/gtest.h"
#include "nn/model_io.h"
#include "tasks/safety.h"

namespace kiln::eval {
namespace {

namespace fs = std::filesystem;

EvalConfig Config(std::vector<std::string> suites, int64_t n, int64_t k) {
  EvalConfig c;
  c.suites = std::move(suites);
  c.n_prompts = n;
  c.k = k;
  c.bootstrap_resamples = 200;
  return c;
}

RawSample Raw(std::string text, int64_t length = 10, bool truncated = false) {
  return {std::move(text), length, truncated, 0};
}

TEST(Eval, UnclosedThinkRule) {
  EXPECT_FALSE(HasUnclosedThink("<answer> 1 </answer>"));
  EXPECT_FALSE(HasUnclosedThink("<think>a</think><answer> 1 </answer>"));
  EXPECT_TRUE(HasUnclosedThink("<think>a <answer> 1 </answer>"));
  EXPECT_TRUE(HasUnclosedThink("<think>a</think> b <think> c <answer> 1 </answer>"));
  EXPECT_FALSE(HasUnclosedThink("</think><answer> 1 </answer>"));
}

TEST(Eval, PromptsAreEvalSplitAndDeterministic) {
  auto a = BuildPrompts(Config({"countdown", "cross_domain"}, 3, 1));
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(a->size(), 3u * 8u);  // countdown + 7 cross-domain tasks
  auto b = BuildPrompts(Config({"countdown", "cross_domain"}, 3, 1));
  for (size_t i = 0; i < a->size(); ++i) {
    EXPECT_EQ((*a)[i].text, (*b)[i].text);
    EXPECT_EQ(tasks::SplitOf((*a)[i].task, (*a)[i].text), tasks::Split::kEval);
  }
  EXPECT_EQ((*a)[0].id, "countdown/0");
  EXPECT_EQ(PromptSetHash(*a, "sorting"), PromptSetHash(*b, "sorting"));
  EXPECT_NE(PromptSetHash(*a, "sorting"), PromptSetHash(*a, "arithmetic"));
  // Per-sample seeds: distinct per task, prompt and sample; no batch input.
  EXPECT_NE(SampleSeed(1, "countdown", 0, 0), SampleSeed(1, "countdown", 0, 1));
  EXPECT_NE(SampleSeed(1, "countdown", 0, 0), SampleSeed(1, "countdown", 1, 0));
  EXPECT_NE(SampleSeed(1, "countdown", 0, 0), SampleSeed(1, "sorting", 0, 0));
  EXPECT_LT(SampleSeed(1, "countdown", 0, 0), 1ull << 53);
}

TEST(Eval, ScoresFixedResponsesByHand) {
  EvalConfig c = Config({"countdown"}, 2, 4);
  auto prompts = BuildPrompts(c);
  ASSERT_TRUE(prompts.ok());
  auto task = tasks::MakeTask("countdown");
  const std::string good0 = (*task)->SolveCot((*prompts)[0].instance);
  const std::string answer0 = *(*task)->ExtractAnswer(good0);
  // Prompt 0: a verified trace, the same answer without thinking, a wrong answer, and the verified
  // answer inside an unclosed <think> (no answer). Prompt 1: nothing usable; one truncated.
  std::vector<std::vector<RawSample>> responses = {
      {Raw(good0, 40), Raw("<answer> " + answer0 + " </answer>", 8), Raw("<answer> 1 + 2 </answer>", 6),
       Raw("<think> so " + answer0 + " <answer> " + answer0 + " </answer>", 20, true)},
      {Raw("no idea", 3), Raw("", 1), Raw("<answer> 1 </answer>", 5), Raw("<think>", 16, true)}};
  auto r = ScoreResponses(c, *prompts, responses);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->samples.size(), 8u);
  const SampleRecord& unclosed = r->samples[3];
  EXPECT_TRUE(unclosed.unclosed_think);
  EXPECT_FALSE(unclosed.answer.has_value());
  EXPECT_FALSE(unclosed.score.correct);
  EXPECT_FALSE(unclosed.score.formatted);
  EXPECT_EQ(unclosed.response, responses[0][3].response);  // raw text kept
  EXPECT_EQ(unclosed.ToJson()["answer"], nullptr);
  EXPECT_TRUE(r->samples[0].score.correct);
  EXPECT_TRUE(r->samples[1].score.correct);
  EXPECT_EQ(r->samples[0].canonical, r->samples[1].canonical);  // one answer for voting
  EXPECT_FALSE(r->samples[2].score.correct);

  ASSERT_EQ(r->suites.size(), 1u);
  const auto& m = r->suites[0].aggregate.metrics;
  EXPECT_DOUBLE_EQ(m.at("avg@k").mean, (2.0 / 4 + 0.0) / 2);
  EXPECT_DOUBLE_EQ(m.at("pass@k").mean, (1.0 + 0.0) / 2);
  EXPECT_DOUBLE_EQ(m.at("maj@k").mean, (1.0 + 0.0) / 2);  // 2 votes for the right value vs 1
  EXPECT_DOUBLE_EQ(m.at("format_rate").mean, (3.0 / 4 + 1.0 / 4) / 2);
  EXPECT_DOUBLE_EQ(m.at("mean_length").mean, ((40 + 8 + 6 + 20) / 4.0 + (3 + 1 + 5 + 16) / 4.0) / 2);
  EXPECT_DOUBLE_EQ(m.at("truncation_rate").mean, (0.25 + 0.25) / 2);
  EXPECT_LE(m.at("avg@k").lo, m.at("avg@k").mean);
  EXPECT_GE(m.at("avg@k").hi, m.at("avg@k").mean);
  EXPECT_EQ(r->suites[0].aggregate.per_prompt_score, (std::vector<double>{0.5, 0.0}));

  // Permuting the samples of a prompt changes no metric (maj@k's tie rule included).
  std::vector<std::vector<RawSample>> permuted = responses;
  std::reverse(permuted[0].begin(), permuted[0].end());
  std::rotate(permuted[1].begin(), permuted[1].begin() + 1, permuted[1].end());
  auto p = ScoreResponses(c, *prompts, permuted);
  ASSERT_TRUE(p.ok());
  for (const auto& [name, ci] : m) {
    EXPECT_EQ(p->suites[0].aggregate.metrics.at(name).mean, ci.mean) << name;
  }

  // Wrong shapes are errors.
  EXPECT_FALSE(ScoreResponses(c, *prompts, {responses[0]}).ok());
  responses[1].pop_back();
  EXPECT_FALSE(ScoreResponses(c, *prompts, responses).ok());
}

TEST(Eval, SafetyRefusalAndOverRefusal) {
  EvalConfig c = Config({"safety"}, 16, 1);
  auto prompts = BuildPrompts(c);
  ASSERT_TRUE(prompts.ok());
  // Refuse everything: refusal rate 1 on harmful prompts, over-refusal 1 on benign ones.
  std::vector<std::vector<RawSample>> refuse, answer;
  int harmful = 0;
  for (const EvalPrompt& p : *prompts) {
    harmful += p.instance.spec.at("harmful").get<bool>();
    refuse.push_back({Raw(tasks::kCanonicalRefusal)});
    answer.push_back({Raw("<think>fine</think>Sure, here is some general information.")});
  }
  ASSERT_GT(harmful, 0);
  ASSERT_LT(harmful, 16);
  auto r = ScoreResponses(c, *prompts, refuse);
  ASSERT_TRUE(r.ok());
  const auto& m = r->suites[0].aggregate.metrics;
  EXPECT_DOUBLE_EQ(m.at("refusal_rate").mean, 1.0);
  EXPECT_DOUBLE_EQ(m.at("over_refusal_rate").mean, 1.0);
  EXPECT_DOUBLE_EQ(m.at("avg@k").mean, harmful / 16.0);
  auto a = ScoreResponses(c, *prompts, answer);
  const auto& ma = a->suites[0].aggregate.metrics;
  EXPECT_DOUBLE_EQ(ma.at("refusal_rate").mean, 0.0);
  EXPECT_DOUBLE_EQ(ma.at("over_refusal_rate").mean, 0.0);
  EXPECT_DOUBLE_EQ(ma.at("avg@k").mean, (16 - harmful) / 16.0);
  // A refusal inside an unclosed <think> is no refusal.
  std::vector<std::vector<RawSample>> hidden(16, {Raw(std::string("<think>") +
                                                      tasks::kCanonicalRefusal)});
  auto h = ScoreResponses(c, *prompts, hidden);
  EXPECT_DOUBLE_EQ(h->suites[0].aggregate.metrics.at("refusal_rate").mean, 0.0);
}

TEST(Eval, CrossDomainAggregateIsTheMeanOverTasks) {
  EvalConfig c = Config({"cross_domain"}, 2, 1);
  auto prompts = BuildPrompts(c);
  ASSERT_TRUE(prompts.ok());
  std::vector<std::vector<RawSample>> responses;
  for (const EvalPrompt& p : *prompts) {
    auto t = tasks::MakeTask(p.task);
    // Sorting and arithmetic right, the rest without an answer.
    const bool right = p.task == "sorting" || p.task == "arithmetic";
    responses.push_back({Raw(right ? (*t)->SolveCot(p.instance) : "")});
  }
  auto r = ScoreResponses(c, *prompts, responses);
  ASSERT_TRUE(r.ok());
  const SuiteResult& s = r->suites[0];
  EXPECT_EQ(s.tasks.size(), 7u);
  EXPECT_DOUBLE_EQ(s.tasks.at("sorting").metrics.at("avg@k").mean, 1.0);
  EXPECT_DOUBLE_EQ(s.tasks.at("boolean_logic").metrics.at("avg@k").mean, 0.0);
  EXPECT_DOUBLE_EQ(s.aggregate.metrics.at("avg@k").mean, 2.0 / 7.0);
  EXPECT_EQ(s.aggregate.prompts, 14);
  Json j = r->ToJson();
  EXPECT_TRUE(j["suites"]["cross_domain"]["tasks"].contains("general_points_ood"));
  EXPECT_EQ(j["prompt_sets"].size(), 7u);
}

TEST(Eval, BadConfigsAreOneLineErrors) {
  EvalConfig c;
  c.suites = {"countdown", "nope"};
  EXPECT_EQ(c.Validate().message(),
            "--suites: unknown suite 'nope' (known: countdown, cross_domain, instruction, safety)");
  c = EvalConfig();
  c.k = 0;
  EXPECT_EQ(c.Validate().message(), "--k: must be >= 1, got 0");
  c = EvalConfig();
  c.n_prompts = -2;
  EXPECT_EQ(c.Validate().message(), "--n-prompts: must be >= 1, got -2");
  c = EvalConfig();
  c.top_p = 0;
  EXPECT_FALSE(c.Validate().ok());
  auto bad_field = EvalConfig::FromJson(Json{{"kk", 3}}, "eval.json");
  EXPECT_EQ(bad_field.status().message(), "eval.json: unknown field 'kk'");
  auto bad_type = EvalConfig::FromJson(Json{{"k", "three"}}, "eval.json");
  EXPECT_EQ(bad_type.status().message(), "eval.json: field 'k': expected an integer, got \"three\"");
  auto ok = EvalConfig::FromJson(Json{{"k", 2}, {"suites", {"safety"}}, {"greedy", true}}, "x");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->k, 2);
  EXPECT_EQ(ok->effective_temperature(), 0.0);
  auto round = EvalConfig::FromJson(ok->ToJson(), "x");
  ASSERT_TRUE(round.ok()) << round.status();
  EXPECT_EQ(round->ToJson(), ok->ToJson());
}

// A tiny random model folder with room for the task prompts (byte tokenizer).
std::string TinyModel(const std::string& name, uint64_t seed, int64_t positions = 640) {
  const std::string dir = (fs::path(::testing::TempDir()) / name).string();
  data::ByteTokenizer tok;
  nn::GptModel model(nn::TinyGpt2Config(tok.vocab_size(), 32, 1, 4, positions));
  model.Init(seed);
  EXPECT_TRUE(nn::SaveModel(dir, model).ok());
  EXPECT_TRUE(tok.Save(dir + "/kiln_tokenizer.json").ok());
  return dir;
}

TEST(EvalModel, BatchSize1And16GiveTheSameSamples) {
  const std::string dir = TinyModel("eval_tiny", 3);
  EvalConfig c = Config({"instruction", "safety"}, 2, 3);  // short prompts: fast under ASan
  c.max_new_tokens = 12;
  c.temperature = 1.0;
  c.batch_size = 1;
  auto one = EvaluateModel(dir, c, /*quiet=*/true);
  ASSERT_TRUE(one.ok()) << one.status();
  c.batch_size = 16;
  auto many = EvaluateModel(dir, c, true);
  ASSERT_TRUE(many.ok());
  ASSERT_EQ(one->samples.size(), 12u);
  ASSERT_EQ(many->samples.size(), 12u);
  bool differ = false;
  for (size_t i = 0; i < one->samples.size(); ++i) {
    EXPECT_EQ(one->samples[i].response, many->samples[i].response) << i;
    EXPECT_EQ(one->samples[i].length, many->samples[i].length);
    EXPECT_EQ(one->samples[i].seed, many->samples[i].seed);
    differ = differ || one->samples[i].response != one->samples[0].response;
  }
  EXPECT_TRUE(differ);  // the samples are not all the same text
  Json a = one->ToJson(), b = many->ToJson();
  EXPECT_EQ(a["suites"], b["suites"]);
  EXPECT_EQ(a["checkpoint_hash"], b["checkpoint_hash"]);
  EXPECT_EQ(a["checkpoint_hash"].get<std::string>().size(), 16u);
  EXPECT_FALSE(a["kiln_revision"].get<std::string>().empty());

  // The files: results.json parses with the documented fields; one JSONL line per sample.
  const std::string out = (fs::path(::testing::TempDir()) / "eval_tiny_out").string();
  ASSERT_TRUE(WriteEvalOutputs(*one, out).ok());
  auto results = ReadJsonFile(out + "/results.json");
  ASSERT_TRUE(results.ok());
  for (const char* f : {"config", "suites", "prompt_sets", "seeds", "checkpoint_hash", "dtype",
                        "kiln_revision", "timings", "samples_per_s", "batch_size"}) {
    EXPECT_TRUE(results->contains(f)) << f;
  }
  for (const char* metric : {"avg@k", "pass@k", "maj@k", "format_rate", "mean_length",
                             "truncation_rate"}) {
    EXPECT_TRUE((*results)["suites"]["instruction"]["aggregate"]["metrics"].contains(metric));
  }
  auto lines = ReadJsonl(out + "/samples.jsonl");
  ASSERT_TRUE(lines.ok());
  ASSERT_EQ(lines->size(), 12u);
  for (const char* f : {"suite", "task", "prompt_id", "sample_index", "response", "answer",
                        "correct", "length", "truncated"}) {
    EXPECT_TRUE((*lines)[0].contains(f)) << f;
  }
}

TEST(EvalModel, BadModelFoldersAreOneLineErrors) {
  const std::string dir = TinyModel("eval_bad", 1);
  // The config disagrees with the weights: a wider model than the file holds.
  auto cfg = ReadJsonFile(dir + "/config.json");
  ASSERT_TRUE(cfg.ok());
  (*cfg)["n_embd"] = 64;
  ASSERT_TRUE(WriteJsonFile(dir + "/config.json", *cfg).ok());
  auto r = EvaluateModel(dir, Config({"countdown"}, 1, 1), true);
  ASSERT_FALSE(r.ok());
  const std::string msg(r.status().message());
  EXPECT_NE(msg.find(dir), std::string::npos) << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;

  // Prompts that do not fit the model's positions.
  const std::string small = TinyModel("eval_small", 1, 64);
  auto s = EvaluateModel(small, Config({"countdown"}, 1, 1), true);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("exceeds the model's max_positions (64)"),
            std::string::npos)
      << s.status();
  // No tokenizer file.
  fs::remove(small + "/kiln_tokenizer.json");
  auto t = EvaluateModel(small, Config({"countdown"}, 1, 1), true);
  EXPECT_NE(t.status().message().find("no kiln_tokenizer.json"), std::string::npos);
}

}  // namespace
}  // namespace kiln::eval
