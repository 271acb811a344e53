// `kiln demo`: the README's main job. The study's measurement (../shared/RESEARCH.md) in
// miniature, end to end, in one process and with no arguments:
//   1. data      the task generators make a pretraining mixture of short answers over every task
//                (refusals included) and verified Countdown chain-of-thought traces;
//   2. base      a small GPT-2, randomly initialized;
//   3. pretrain  the base model learns the mixture (the SFT loop, response-only loss);
//   4. sft       fine-tuning on the Countdown CoT traces with checkpoints on a log-spaced schedule;
//   5. sweep     every checkpoint evaluated with the same prompts and seeds (in-domain, cross-
//                domain, instruction following, safety), table + plots + dip/recovery summary;
//   6. report    <out>/report.md with the plots and the summary table.
// Every stage is the same code path as its command (`kiln data`, `kiln sft`, `kiln eval
// --sweep`), so the demo is also their integration test. Same flags: the same numbers.
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/file.h"
#include "base/json.h"
#include "base/thread_pool.h"
#include "data/tokenizer.h"
#include "eval/evaluate.h"
#include "eval/sweep_run.h"
#include "nn/gpt.h"
#include "tasks/task.h"
#include "tools/demo_report.h"
#include "tools/run_util.h"
#include "train/common.h"
#include "train/sft_config.h"
#include "train/sft_trainer.h"

namespace kiln::tools {

int RunData(const std::vector<std::string>& args);

namespace {

// The sizes of one demo run. The default fits in about 10 minutes on 2 cores (measured:
// docs/demo.md); --full is the study's checkpoint schedule and step count.
struct DemoPlan {
  int64_t n_layer = 4, n_embd = 128, n_head = 4, max_len = 640;
  int64_t mix_n = 2048, pretrain_steps = 64, pretrain_batch = 16;
  double pretrain_lr = 3e-3;
  int64_t cot_n = 1024, sft_batch = 16;
  double sft_lr = 5e-4;
  std::vector<int64_t> save_steps = {0, 4, 8, 16, 32, 64};
  int64_t n_prompts = 6, k = 2, max_new_tokens = 384;
};

DemoPlan FullPlan() {
  DemoPlan p;
  p.n_layer = 6;
  p.n_embd = 256;
  p.n_head = 8;
  p.mix_n = 20480;
  p.pretrain_steps = 640;
  p.pretrain_batch = 32;
  p.pretrain_lr = 1e-3;
  p.cot_n = 20480 / 8;
  p.sft_batch = 32;
  p.sft_lr = 1e-4;
  p.save_steps = {0, 10, 20, 40, 80, 160, 320, 480, 640};
  p.n_prompts = 32;
  p.k = 4;
  p.max_new_tokens = 512;
  return p;
}

// The pretraining mixture: short answers of every task that has a train split in the SFT study's
// sense (general_points_ood stays out: its rule is the out-of-distribution test).
constexpr const char* kMixSources =
    "countdown=2,general_points=1,arithmetic=1,linear_equation=1,sorting=1,shortest_path=1,"
    "boolean_logic=1,instruction=1,safety=1";

absl::Status Check(int rc, const std::string& what) {
  if (rc == kExitOk) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("demo: ", what, " failed (exit ", rc, ")"));
}

// A randomly initialized GPT-2 with the byte tokenizer, as a model folder.
absl::Status MakeBaseModel(const std::string& dir, const DemoPlan& p, uint64_t seed) {
  data::ByteTokenizer tok;
  nn::GptConfig cfg = nn::TinyGpt2Config(tok.vocab_size(), p.n_embd, p.n_layer, p.n_head,
                                         p.max_len + p.max_new_tokens);
  nn::GptModel model(cfg);
  model.Init(seed);
  return train::SaveModelFolder(dir, model, tok);
}

Json SftJson(const std::string& model, const std::string& data, const std::string& out,
             int64_t steps, int64_t batch, double lr, const std::vector<int64_t>& save_steps,
             const DemoPlan& p, uint64_t seed) {
  return Json{{"model", model},
              {"data",
               {{"train", data},
                {"val_fraction", 0.05},
                {"max_len", p.max_len},
                {"global_batch", batch},
                {"micro_batch", batch / 2},
                {"shuffle", true},
                {"seed", seed}}},
              {"optim",
               {{"lr", lr},
                {"betas", {0.9, 0.95}},
                {"weight_decay", 0.01},
                {"schedule", "cosine"},
                {"warmup_ratio", 0.1},
                {"clip", 1.0}}},
              {"run", {{"steps", steps}, {"save_steps", save_steps}, {"out_dir", out}}}};
}

absl::Status RunSftJson(const Json& j) {
  auto c = train::SftConfigFromJson(j);
  if (!c.ok()) return c.status();
  return train::RunSft(*c);
}

class Stages {
 public:
  explicit Stages(int total) : total_(total) {}
  void Begin(const std::string& name, const std::string& what) {
    name_ = name;
    start_ = std::chrono::steady_clock::now();
    std::printf("\n[%d/%d] %s: %s\n", ++index_, total_, name.c_str(), what.c_str());
    std::fflush(stdout);
  }
  void End() {
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    done_.push_back({name_, s});
  }
  const std::vector<DemoStage>& done() const { return done_; }

 private:
  int total_, index_ = 0;
  std::string name_;
  std::chrono::steady_clock::time_point start_;
  std::vector<DemoStage> done_;
};

}  // namespace

int RunDemo(const std::vector<std::string>& args) {
  std::string out = "out/demo";
  int64_t seed = 1, threads = 0;
  bool full = false;
  FlagSet flags("demo",
                "The study in miniature: makes task data, pretrains a small GPT-2 on a mixture, "
                "fine-tunes it on verified Countdown CoT with log-spaced checkpoints, evaluates "
                "every checkpoint (in-domain, cross-domain, instruction, safety) and writes "
                "<out>/report.md with plots and a summary table.");
  flags.String("out", &out, "output folder (also -o); its demo files are replaced");
  flags.Int("seed", &seed, "seed of data, initialization, shuffling and sampling");
  flags.Int("threads", &threads, "worker threads (0 = all cores); the numbers do not depend on it");
  flags.Bool("full", &full, "the study's sweep (640 steps, checkpoints 0..640); hours on a CPU");
  if (int rc = ParseOrExit(flags, ExpandShort(args)); rc >= 0) return rc;
  if (seed < 0) return Usage(absl::StrCat("--seed: must be >= 0, got ", seed));
  if (threads < 0) return Usage(absl::StrCat("--threads: must be >= 0, got ", threads));
  if (threads > 0) SetNumThreads(static_cast<int>(threads));
  const DemoPlan p = full ? FullPlan() : DemoPlan();
  const uint64_t useed = static_cast<uint64_t>(seed);
  std::error_code ec;
  for (const char* sub : {"data", "base", "pretrain", "sft"}) {
    std::filesystem::remove_all(out + "/" + sub, ec);
  }
  std::filesystem::create_directories(out + "/data", ec);
  if (ec) return Fail(absl::PermissionDeniedError("--out: cannot create folder '" + out + "'"));
  const auto start = std::chrono::steady_clock::now();
  const std::string mix = out + "/data/mixture.jsonl", cot = out + "/data/countdown_cot.jsonl";

  eval::EvalConfig ec_cfg;
  ec_cfg.n_prompts = p.n_prompts;
  ec_cfg.k = p.k;
  ec_cfg.max_new_tokens = p.max_new_tokens;
  ec_cfg.seed = useed;
  Json setup = {
      {"model", {{"family", "gpt2"}, {"n_layer", p.n_layer}, {"n_embd", p.n_embd},
                 {"n_head", p.n_head}, {"tokenizer", "byte"}, {"init_seed", seed}}},
      {"pretrain", {{"data", "kiln data mix --sources " + std::string(kMixSources)},
                    {"records", p.mix_n}, {"steps", p.pretrain_steps},
                    {"global_batch", p.pretrain_batch}, {"lr", p.pretrain_lr}}},
      {"sft", {{"data", "kiln data make --task countdown --variant cot --difficulty 3"},
               {"records", p.cot_n}, {"steps", p.save_steps.back()},
               {"global_batch", p.sft_batch}, {"lr", p.sft_lr}, {"max_len", p.max_len},
               {"save_steps", p.save_steps}, {"loss", "token mean over response tokens"}}},
      {"eval", ec_cfg.ToJson()},
      {"seed", seed},
      {"full", full}};

  Stages st(6);
  st.Begin("data", absl::StrCat(p.mix_n, " mixture records (short answers) and ", p.cot_n,
                                " verified Countdown CoT traces"));
  const std::string s = absl::StrCat(seed);
  if (auto r = Check(RunData({"mix", "--sources", kMixSources, "--n", absl::StrCat(p.mix_n),
                              "--seed", s, "--nostats", "-o", mix}),
                     "data mix");
      !r.ok()) {
    return Fail(r);
  }
  if (auto r = Check(RunData({"make", "--task", "countdown", "--variant", "cot", "--difficulty",
                              "3", "--n", absl::StrCat(p.cot_n), "--seed", s, "--nostats", "-o",
                              cot}),
                     "data make");
      !r.ok()) {
    return Fail(r);
  }
  st.End();

  st.Begin("base", absl::StrCat("random GPT-2, ", p.n_layer, " layers, width ", p.n_embd));
  if (auto r = MakeBaseModel(out + "/base", p, useed); !r.ok()) return Fail(r);
  st.End();

  st.Begin("pretrain", absl::StrCat(p.pretrain_steps, " steps of ", p.pretrain_batch,
                                    " examples on the mixture"));
  if (auto r = RunSftJson(SftJson(out + "/base", mix, out + "/pretrain", p.pretrain_steps,
                                  p.pretrain_batch, p.pretrain_lr, {p.pretrain_steps}, p, useed));
      !r.ok()) {
    return Fail(r);
  }
  st.End();

  const std::string base = absl::StrCat(out, "/pretrain/checkpoints/step_", p.pretrain_steps);
  st.Begin("sft", absl::StrCat(p.save_steps.back(), " steps of ", p.sft_batch,
                               " Countdown CoT examples, checkpoints at ",
                               absl::StrJoin(p.save_steps, ",")));
  if (auto r = RunSftJson(SftJson(base, cot, out + "/sft", p.save_steps.back(), p.sft_batch,
                                  p.sft_lr, p.save_steps, p, useed));
      !r.ok()) {
    return Fail(r);
  }
  st.End();

  st.Begin("sweep", absl::StrCat("every checkpoint on ", absl::StrJoin(ec_cfg.suites, ", "), ": ",
                                 p.n_prompts, " prompts per task, k ", p.k));
  auto summary = eval::RunSweep(out + "/sft", ec_cfg, out + "/sft/eval");
  if (!summary.ok()) return Fail(summary.status());
  st.End();

  st.Begin("report", out + "/report.md");
  DemoFacts facts{out, setup, st.done(), "pretrain", "sft", "sft/eval"};
  if (auto r = WriteDemoReport(facts); !r.ok()) return Fail(r);
  st.End();

  auto lines = HeadlineLines(*summary);
  if (!lines.ok()) return Fail(lines.status());
  const double total =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("\nkiln demo finished in %.0f s. What it measured (avg@k, first vs last checkpoint):\n",
              total);
  for (const auto& l : *lines) std::printf("  %s\n", l.c_str());
  std::printf("sweep checksum %016llx (same seed and flags: the same value)\n",
              static_cast<unsigned long long>(tasks::HashString(summary->dump())));
  std::printf("report: %s/report.md\n", out.c_str());
  return kExitOk;
}

}  // namespace kiln::tools
