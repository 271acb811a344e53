// Datasets: byte-identical files for the same flags (and any thread count), the SFT variants, the
// teacher slot, mixtures, statistics, the split check, and clear errors for bad input.
#include "data/dataset.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "base/file.h"
#include "base/thread_pool.h"
#include "tasks/arith.h"

namespace kiln::data {
namespace {

std::string Tmp(const std::string& name) { return testing::TempDir() + "/kiln_data_" + name; }

std::string Bytes(const std::vector<Record>& rs, const std::string& name) {
  std::string path = Tmp(name);
  EXPECT_TRUE(WriteRecords(path, rs).ok());
  auto text = ReadFile(path);
  std::remove(path.c_str());
  return *text;
}

MakeOptions Opts(const std::string& task, int64_t n, const std::string& variant) {
  MakeOptions o;
  o.task = task;
  o.n = n;
  o.variant = variant;
  o.seed = 1;
  return o;
}

TEST(MakeDataset, SameFlagsSameBytesAnyThreadCount) {
  MakeOptions o = Opts("countdown", 300, "cot");
  kiln::SetNumThreads(1);
  auto a = MakeDataset(o);
  kiln::SetNumThreads(2);
  auto b = MakeDataset(o);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(Bytes(*a, "a.jsonl"), Bytes(*b, "b.jsonl"));
  o.seed = 2;
  EXPECT_NE(Bytes(*a, "a.jsonl"), Bytes(*MakeDataset(o), "c.jsonl"));
  // A record depends on (seed, index) only: a longer set starts with the shorter one.
  o.seed = 1;
  o.n = 100;
  auto head = MakeDataset(o);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(RecordToJson((*head)[i]), RecordToJson((*a)[i]));
}

TEST(MakeDataset, CotRecordsAreVerifiedAndRoundTrip) {
  auto rs = MakeDataset(Opts("countdown", 200, "cot"));
  ASSERT_TRUE(rs.ok());
  auto task = *tasks::MakeTask("countdown");
  std::string path = Tmp("rt.jsonl");
  ASSERT_TRUE(WriteRecords(path, *rs).ok());
  auto back = ReadRecords(path);
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), rs->size());
  for (size_t i = 0; i < rs->size(); ++i) {
    const Record& r = (*back)[i];
    EXPECT_EQ(RecordToJson(r), RecordToJson((*rs)[i]));
    EXPECT_TRUE(r.verified);
    EXPECT_TRUE(r.difficulty == 3 || r.difficulty == 4);
    tasks::Instance inst = task->Generate(r.seed, r.difficulty);  // the seed rebuilds it
    EXPECT_EQ(task->Prompt(inst), r.prompt);
    EXPECT_EQ(task->ScoreResponse(inst, r.response).reward, 1.0);
    EXPECT_EQ(tasks::SplitOf("countdown", r.prompt), tasks::Split::kTrain);
  }
  std::remove(path.c_str());
}

TEST(MakeDataset, NoCotDropsTheThinkingAndKeepsTheAnswer) {
  auto cot = *MakeDataset(Opts("countdown", 50, "cot"));
  auto nocot = *MakeDataset(Opts("countdown", 50, "nocot"));
  for (size_t i = 0; i < cot.size(); ++i) {
    EXPECT_EQ(nocot[i].prompt, cot[i].prompt);
    EXPECT_EQ(nocot[i].response.find("<think>"), std::string::npos);
    EXPECT_EQ(nocot[i].response.rfind("<answer>", 0), 0u);
    EXPECT_EQ(*tasks::LastAnswerTag(nocot[i].response), *tasks::LastAnswerTag(cot[i].response));
  }
}

TEST(MakeDataset, LowQualityAtAChosenRate) {
  MakeOptions o = Opts("countdown", 400, "lowq");
  o.low_quality_rate = 0.5;
  auto rs = *MakeDataset(o);
  std::map<std::string, int> kinds;
  int low = 0;
  for (const auto& r : rs) {
    if (r.verified) {
      EXPECT_TRUE(r.defect.empty());
      continue;
    }
    ++low;
    ++kinds[r.defect];
    if (r.defect == "slip") {
      EXPECT_FALSE(tasks::CheckStepArithmetic(r.response)) << r.response;
    } else if (r.defect == "truncated") {
      EXPECT_FALSE(tasks::LastAnswerTag(r.response).has_value());
    } else if (r.defect == "shuffled") {
      EXPECT_NE(r.response.find("</think>"), std::string::npos);
    } else {
      EXPECT_EQ(r.response.find("<think>"), std::string::npos);
    }
  }
  EXPECT_GT(low, 150);
  EXPECT_LT(low, 250);
  EXPECT_EQ(kinds.size(), 4u);
  o.low_quality_rate = 0.0;
  auto clean = MakeDataset(o);  // a named StatusOr: range-for over *temporary would dangle
  ASSERT_TRUE(clean.ok());
  for (const auto& r : *clean) EXPECT_TRUE(r.verified);
}

TEST(MakeDataset, TeacherSlotKeepsOnlyVerifiedSamples) {
  auto task = *tasks::MakeTask("countdown");
  MakeOptions o = Opts("countdown", 40, "teacher");
  int64_t dropped = -1;
  // A fake teacher: one wrong sample, then the solver's trace for every third prompt.
  int calls = 0;
  auto sample = [&](const std::string& prompt, int k, uint64_t) {
    EXPECT_EQ(k, 4);
    std::vector<std::string> out = {"<answer> 1 + 1 </answer>"};
    if (calls++ % 3 == 0) {
      for (int64_t i = 0; i < 10000; ++i) {  // find the instance behind the prompt
        auto inst = tasks::GenerateInSplit(*task, o.seed, i, 3, tasks::Split::kTrain);
        auto inst4 = tasks::GenerateInSplit(*task, o.seed, i, 4, tasks::Split::kTrain);
        if (task->Prompt(inst) == prompt) out.push_back(task->SolveCot(inst));
        if (task->Prompt(inst4) == prompt) out.push_back(task->SolveCot(inst4));
        if (out.size() > 1) break;
      }
    }
    return out;
  };
  auto rs = MakeTeacherDataset(o, sample, 4, &dropped);
  ASSERT_TRUE(rs.ok()) << rs.status();
  EXPECT_EQ(static_cast<int64_t>(rs->size()) + dropped, 40);
  EXPECT_GT(rs->size(), 5u);
  for (const auto& r : *rs) {
    EXPECT_EQ(r.variant, "teacher");
    EXPECT_TRUE(task->ScoreResponse(task->Generate(r.seed, r.difficulty), r.response).correct);
  }
}

TEST(MakeDataset, BadOptionsNameTheFlag) {
  auto msg = [](const MakeOptions& o) {
    auto r = MakeDataset(o);
    EXPECT_FALSE(r.ok());
    return std::string(r.status().message());
  };
  EXPECT_EQ(msg(Opts("countdwn", 10, "cot")).rfind("--task: unknown task 'countdwn'", 0), 0u);
  MakeOptions d = Opts("countdown", 10, "cot");
  d.difficulty = 9;
  EXPECT_EQ(msg(d).rfind("--difficulty: task 'countdown': difficulty 9 is out of range", 0), 0u);
  EXPECT_EQ(msg(Opts("countdown", 10, "cott")).rfind("--variant", 0), 0u);
  EXPECT_EQ(msg(Opts("countdown", 0, "cot")).rfind("--n", 0), 0u);
  EXPECT_EQ(msg(Opts("countdown", 10, "teacher")).rfind("--variant", 0), 0u);
  // The cross-domain suite never goes into SFT training data; its eval split is fine.
  EXPECT_EQ(msg(Opts("arithmetic", 10, "cot")).rfind("--task", 0), 0u);
  MakeOptions e = Opts("arithmetic", 10, "cot");
  e.split = "eval";
  EXPECT_TRUE(MakeDataset(e).ok());
  e.split = "test";
  EXPECT_EQ(msg(e).rfind("--split", 0), 0u);
  MakeOptions q = Opts("countdown", 10, "lowq");
  q.low_quality_rate = 1.5;
  EXPECT_EQ(msg(q).rfind("--low-quality-rate", 0), 0u);
}

TEST(ReadRecords, MalformedLinesNameFileAndLine) {
  std::string path = Tmp("bad.jsonl");
  Record r{"p", "r", "countdown", 3, "cot", true, 5, ""};
  std::string good = RecordToJson(r).dump();
  ASSERT_TRUE(WriteFileAtomic(path, good + "\n\n{\"prompt\": \"p\", oops\n").ok());
  auto a = ReadRecords(path);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(std::string(a.status().message()).rfind(path + ":3: invalid JSON", 0), 0u);
  ASSERT_TRUE(WriteFileAtomic(path, good + "\n{\"prompt\": \"p\", \"task\": \"t\"}\n").ok());
  auto b = ReadRecords(path);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(std::string(b.status().message()), path + ":2: missing field 'response'");
  ASSERT_TRUE(
      WriteFileAtomic(path, "{\"prompt\": 1, \"response\": \"r\", \"task\": \"t\"}\n").ok());
  EXPECT_NE(std::string(ReadRecords(path).status().message()).find(":1: field 'prompt'"),
            std::string::npos);
  ASSERT_TRUE(WriteFileAtomic(path,
                              "{\"prompt\": \"p\", \"response\": \"r\", \"task\": \"t\", "
                              "\"seed\": -3}\n")
                  .ok());
  EXPECT_FALSE(ReadRecords(path).ok());
  std::remove(path.c_str());
  EXPECT_FALSE(ReadRecords(path).ok());  // missing file
}

TEST(WriteRecords, AFailedWriteLeavesNoFile) {
  std::string dir = Tmp("nodir_does_not_exist");
  EXPECT_FALSE(WriteRecords(dir + "/x.jsonl", {}).ok());
  EXPECT_FALSE(std::filesystem::exists(dir));
  // An existing file is replaced whole or not at all: a failed build never calls WriteRecords.
  std::string path = Tmp("keep.jsonl");
  ASSERT_TRUE(WriteFileAtomic(path, "old\n").ok());
  auto bad = MakeDataset(Opts("nope", 10, "cot"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(*ReadFile(path), "old\n");
  std::remove(path.c_str());
}

TEST(Mixture, WeightsPerSourceAndShortAnswers) {
  auto src = ParseMixSources("countdown:3=3, arithmetic=1,safety=1");
  ASSERT_TRUE(src.ok()) << src.status();
  auto rs = MakeMixture(*src, 1000, 7);
  ASSERT_TRUE(rs.ok());
  std::map<std::string, int> n;
  for (const auto& r : *rs) {
    ++n[r.task];
    EXPECT_EQ(r.variant, "short");
    EXPECT_EQ(r.response.find("<think>"), std::string::npos);
    if (r.task == "countdown") {
      EXPECT_EQ(r.difficulty, 3);
    }
    auto task = *tasks::MakeTask(r.task);
    EXPECT_TRUE(task->ScoreResponse(task->Generate(r.seed, r.difficulty), r.response).correct);
  }
  EXPECT_GT(n["countdown"], 520);
  EXPECT_LT(n["countdown"], 680);
  EXPECT_GT(n["safety"], 140);
  EXPECT_EQ(Bytes(*rs, "m1"), Bytes(*MakeMixture(*src, 1000, 7), "m2"));
  for (const char* bad :
       {"countdown=0", "countdown=x", "nope=1", "countdown:9=1", "countdown:x", ""}) {
    auto p = ParseMixSources(bad);
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(std::string(p.status().message()).rfind("--sources", 0), 0u) << bad;
  }
}

TEST(Stats, LengthsAndCounts) {
  LengthStats l = ComputeLengthStats({1, 2, 3, 4, 100});
  EXPECT_DOUBLE_EQ(l.mean, 22);
  EXPECT_EQ(l.p50, 3);
  EXPECT_EQ(l.p95, 100);
  EXPECT_EQ(l.max, 100);
  std::vector<Record> rs = {{"ab", "xyz", "countdown", 3, "cot", true, 1, ""},
                            {"a", "", "safety", 1, "short", false, 2, ""}};
  DatasetStats s = ComputeStats(rs, ByteTokenizer());
  EXPECT_EQ(s.n, 2);
  EXPECT_EQ(s.verified, 1);
  EXPECT_EQ(s.by_task["safety"], 1);
  EXPECT_EQ(s.response_tokens.max, 4);  // 3 bytes + EOS
  EXPECT_EQ(s.example_tokens.max, 4 + 2 + 4);
  std::string svg = LengthHistogramSvg(s, "t");
  EXPECT_NE(svg.find("<svg"), std::string::npos);
  EXPECT_EQ(StatsToJson(s)["n"], 2);
}

TEST(CheckSplit, NoEvalPromptInTrainingFiles) {
  std::string train = Tmp("train.jsonl"), eval = Tmp("eval.jsonl");
  ASSERT_TRUE(WriteRecords(train, *MakeDataset(Opts("countdown", 500, "cot"))).ok());
  MakeOptions e = Opts("countdown", 100, "short");
  e.split = "eval";
  auto ev = *MakeDataset(e);
  ASSERT_TRUE(WriteRecords(eval, ev).ok());
  auto rep = CheckSplit({train}, {eval});
  ASSERT_TRUE(rep.ok());
  EXPECT_EQ(rep->train_prompts, 500);
  EXPECT_EQ(rep->eval_prompts, 100);
  EXPECT_TRUE(rep->overlapping.empty());
  // A leaked prompt is found and located.
  ev.push_back((*ReadRecords(train))[17]);
  ASSERT_TRUE(WriteRecords(eval, ev).ok());
  rep = CheckSplit({train}, {eval});
  ASSERT_EQ(rep->overlapping.size(), 1u);
  EXPECT_EQ(rep->overlapping[0].rfind(eval + ":101: Using the numbers", 0), 0u);
  std::remove(train.c_str());
  std::remove(eval.c_str());
}

}  // namespace
}  // namespace kiln::data
