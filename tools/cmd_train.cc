// `kiln train`: pretrains a GPT-2 / Llama model from a run config (train/train_config.h) on text
// or token files, with a live progress line, validation loss, metrics JSONL, a loss plot and
// checkpoints; `--resume DIR` continues a run bit for bit. Flags override config fields.
#include <cmath>
#include <cstdio>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/thread_pool.h"
#include "cpu/isa.h"
#include "train/trainer.h"
#include "tools/run_config.h"
#include "tools/run_util.h"

namespace kiln::tools {
namespace {

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(s, ',', absl::SkipEmpty())) {
    out.emplace_back(part);
  }
  return out;
}

}  // namespace

int RunTrain(const std::vector<std::string>& args) {
  std::string config_path, resume, model, text, tokens, tokenizer, optimizer, schedule, out, device,
      precision, cuda_gemm;
  int64_t seq_len = 0, batch_size = 0, grad_accum = 0, val_batches = 0, steps = 0, stop_after = 0,
          eval_every = 0, save_every = 0, log_every = 0, threads = 0, seed = 0, warmup_steps = 0;
  double lr = 0, min_lr = 0, clip = 0, weight_decay = 0;
  bool shuffle = true, log_internals = false;
  FlagSet flags("train",
                "Pretrains a GPT-2 or Llama model on text or token files: kiln train --config "
                "configs/tiny_gpt2.json. Flags override the config's fields; --resume DIR "
                "continues a run from its checkpoint folder, bit for bit. Writes "
                "<out>/metrics.jsonl, <out>/loss.svg and the checkpoint <out>/checkpoint.");
  flags.String("config", &config_path, "run config JSON (docs/training.md); default: defaults");
  flags.String("resume", &resume, "checkpoint folder to continue (its config is the default)");
  flags.String("model", &model, "model: gpt2-tiny, llama-tiny or a config.json path");
  flags.String("data", &text, "text file(s) to train on, comma-separated (data.text)");
  flags.String("tokens", &tokens, "token shard files / folders / globs, comma-separated");
  flags.String("tokenizer", &tokenizer, "byte, gpt2 or a tokenizer JSON file");
  flags.Int("seq_len", &seq_len, "tokens per sequence");
  flags.Int("batch_size", &batch_size, "sequences per micro-batch");
  flags.Int("grad_accum", &grad_accum, "micro-batches per optimizer step");
  flags.Bool("shuffle", &shuffle, "shuffle windows each epoch (seeded)");
  flags.Int("val_batches", &val_batches, "held-out validation batches (0: none)");
  flags.String("optimizer", &optimizer, "adamw or sgd");
  flags.Double("lr", &lr, "peak learning rate");
  flags.String("schedule", &schedule, "constant, linear or cosine (after warmup)");
  flags.Int("warmup_steps", &warmup_steps, "linear warmup steps");
  flags.Double("min_lr", &min_lr, "learning rate reached at the last step");
  flags.Double("weight_decay", &weight_decay, "weight decay (matrices only)");
  flags.Double("clip", &clip, "max global gradient norm (0: no clipping)");
  flags.Int("steps", &steps, "optimizer steps of the run (the schedule's length)");
  flags.Int("stop_after", &stop_after, "stop (and save) after this many steps; resume later");
  flags.Int("eval_every", &eval_every, "validation loss every N steps (0: at the end only)");
  flags.Int("save_every", &save_every, "checkpoint every N steps (0: at the end only)");
  flags.Int("log_every", &log_every, "metrics record every N steps");
  flags.Bool("log_internals", &log_internals,
             "also log per-layer weight / grad / update norms and activation statistics");
  flags.String("out", &out, "output folder (run.out_dir; also -o)");
  flags.Int("threads", &threads, "threads (0: all cores; the bits do not depend on it)");
  flags.String("device", &device, "cpu, cuda, cuda:N or cuda-sim (run.device; cuda-sim runs the "
                                  "CUDA kernels on the CPU through kiln's interpreter)");
  flags.String("precision", &precision, "f32 or bf16 (run.precision; bf16: mixed precision, the "
                                        "GEMM operands in bf16 with f32 math and master weights)");
  flags.String("cuda_gemm", &cuda_gemm, kCudaGemmHelp);
  flags.Int("seed", &seed, "seed of the initialization and of the shuffle order");
  if (int rc = ParseOrExit(flags, ExpandShort(args)); rc >= 0) return rc;
  if (int rc = ApplyCudaGemmFlag(flags, cuda_gemm); rc >= 0) return rc;
  if (!flags.positional().empty()) {
    return Usage("unexpected argument '" + flags.positional()[0] + "' (flags start with --)");
  }

  // The base config: --config, else the checkpoint's (resume), else the defaults.
  std::string where = "run config";
  auto base_or = BaseRunConfig(config_path, resume, train::Trainer::CheckpointConfig, &where);
  if (!base_or.ok()) return Fail(base_or.status());
  const Json& base = *base_or;

  Json merged = base;
  std::map<std::string, std::string> flag_of;
  auto set = [&](const char* flag, const std::string& field, Json value) {
    if (!flags.WasSet(flag)) return;
    train::SetField(merged, field, std::move(value));
    flag_of[field] = absl::StrCat("--", flag);
  };
  set("model", "model", model);
  if (flags.WasSet("data")) {
    set("data", "data.text", SplitList(text));
    if (merged["data"].contains("tokens")) merged["data"].erase("tokens");
  }
  if (flags.WasSet("tokens")) {
    set("tokens", "data.tokens", SplitList(tokens));
    if (merged["data"].contains("text")) merged["data"].erase("text");
  }
  set("tokenizer", "data.tokenizer", tokenizer);
  set("seq_len", "data.seq_len", seq_len);
  set("batch_size", "data.batch_size", batch_size);
  set("grad_accum", "data.grad_accum", grad_accum);
  set("shuffle", "data.shuffle", shuffle);
  set("val_batches", "data.val_batches", val_batches);
  set("optimizer", "optim.name", optimizer);
  set("lr", "optim.lr", lr);
  set("schedule", "optim.schedule", schedule);
  set("warmup_steps", "optim.warmup_steps", warmup_steps);
  set("min_lr", "optim.min_lr", min_lr);
  set("weight_decay", "optim.weight_decay", weight_decay);
  set("clip", "optim.clip", clip);
  set("steps", "run.steps", steps);
  set("stop_after", "run.stop_after", stop_after);
  set("eval_every", "run.eval_every", eval_every);
  set("save_every", "run.save_every", save_every);
  set("log_every", "run.log_every", log_every);
  set("log_internals", "run.log_internals", log_internals);
  set("out", "run.out_dir", out);
  set("threads", "run.threads", threads);
  set("device", "run.device", device);
  set("precision", "run.precision", precision);
  set("seed", "run.seed", seed);
  set("seed", "data.seed", seed);
  // stop_after is one invocation's, not the run's: a resumed run goes on to run.steps.
  if (!resume.empty() && !flags.WasSet("stop_after") && merged.contains("run") &&
      merged["run"].is_object()) {
    merged["run"].erase("stop_after");
  }
  if (!resume.empty() && !flags.WasSet("out")) {
    // A checkpoint lives at <out_dir>/checkpoint: keep writing next to it.
    train::SetField(merged, "run.out_dir", OutDirOfCheckpoint(resume));
  }

  auto config = train::TrainConfig::FromJson(merged, where, flag_of);
  if (!config.ok()) {
    // Blame the flags (usage, exit 2) when the error names one or the file alone is fine.
    const std::string msg(config.status().message());
    if (msg.find("(set by --") != std::string::npos || base.empty() ||
        train::TrainConfig::FromJson(base, where).ok()) {
      return Usage(msg);
    }
    return Fail(config.status());
  }
  if (config->run.threads > 0) kiln::SetNumThreads(static_cast<int>(config->run.threads));

  auto trainer =
      resume.empty() ? train::Trainer::Create(*config) : train::Trainer::Resume(resume, *config);
  if (!trainer.ok()) return Fail(trainer.status());
  train::Trainer& t = **trainer;
  const train::TrainConfig& c = t.config();
  const nn::GptConfig& mc = t.model().config();
  std::printf(
      "kiln train: %s %lldx%lld, %lld params, vocab %lld (%s tokenizer); %lld train tokens%s; "
      "%lld tokens/step (%lld x %lld x %lld); steps %lld/%lld; %d threads, %s path, device %s, %s\n",
      mc.is_gpt2() ? "GPT-2" : "Llama", static_cast<long long>(mc.n_layer),
      static_cast<long long>(mc.n_embd), static_cast<long long>(t.model().NumParameters()),
      static_cast<long long>(mc.vocab_size), t.tokenizer().type().c_str(),
      static_cast<long long>(t.train_loader().num_tokens()),
      t.has_validation() ? absl::StrCat(", ", c.data.val_batches, " validation batches").c_str()
                         : "",
      static_cast<long long>(c.data.grad_accum * c.data.batch_size * c.data.seq_len),
      static_cast<long long>(c.data.grad_accum), static_cast<long long>(c.data.batch_size),
      static_cast<long long>(c.data.seq_len), static_cast<long long>(t.step()),
      static_cast<long long>(c.run.steps), kiln::NumThreads(), cpu::IsaName(cpu::ActiveIsa()),
      c.run.device.c_str(), c.run.precision.c_str());
  std::fflush(stdout);
  if (auto s = t.Run({}); !s.ok()) return Fail(s);

  double loss = NAN, val = NAN;
  for (const Json& m : t.metrics()) {
    auto num = [&](const char* k) {
      return m.contains(k) && m[k].is_number() ? m[k].get<double>() : NAN;
    };
    if (m.value("type", "") == "train") loss = num("loss");
    if (m.value("type", "") == "val") val = num("val_loss");
  }
  const std::string& dir = c.run.out_dir;
  std::printf("step %lld/%lld: train loss %.4f, validation loss %.4f\n",
              static_cast<long long>(t.step()), static_cast<long long>(c.run.steps), loss, val);
  std::printf("wrote %s/checkpoint, %s/metrics.jsonl, %s/loss.svg%s\n", dir.c_str(), dir.c_str(),
              dir.c_str(),
              t.step() < c.run.steps
                  ? absl::StrCat(" (resume: kiln train --resume ", dir, "/checkpoint)").c_str()
                  : "");
  return kExitOk;
}

}  // namespace kiln::tools
