// `kiln sft`: supervised fine-tuning of a model folder on a chat JSONL (train/sft_trainer.h) from
// a run config whose every field a flag overrides; `--resume DIR` continues a run bit for bit.
// Docs: docs/sft.md.
#include "base/thread_pool.h"

#include <cmath>
#include <cstdio>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cpu/isa.h"
#include "tools/run_config.h"
#include "tools/run_util.h"
#include "train/sft_trainer.h"

namespace kiln::tools {
namespace {

// "0,10,20" -> [0, 10, 20]; an error names the flag.
absl::StatusOr<Json> ParseSteps(const std::string& s) {
  Json out = Json::array();
  for (absl::string_view part : absl::StrSplit(s, ',', absl::SkipEmpty())) {
    int64_t v;
    if (!absl::SimpleAtoi(part, &v) || v < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--save-steps: expected steps >= 0 separated by commas, got '", part, "'"));
    }
    out.push_back(v);
  }
  return out;
}

absl::StatusOr<Json> ParseBetas(const std::string& s) {
  std::vector<std::string> parts = absl::StrSplit(s, ',');
  double a, b;
  if (parts.size() != 2 || !absl::SimpleAtod(parts[0], &a) || !absl::SimpleAtod(parts[1], &b)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--betas: expected two numbers 'beta1,beta2', got '", s, "'"));
  }
  return Json::array({a, b});
}

}  // namespace

int RunSft(const std::vector<std::string>& args) {
  std::string config_path, resume, model, data, val_data, tokenizer, normalization, optimizer,
      schedule, betas, save_steps, out, device, precision;
  int64_t max_len = 0, seed = 0, global_batch = 0, micro_batch = 0, epochs = 0, steps = 0,
          stop_after = 0, save_every = 0, log_every = 0, threads = 0, warmup_steps = 0;
  double val_fraction = 0, min_share = 0, lr = 0, eps = 0, weight_decay = 0, momentum = 0,
         warmup_ratio = 0, min_lr = 0, min_ratio = 0, clip = 0;
  bool pack = false, shuffle = true, decay_embeddings = true;
  FlagSet flags("sft",
                "Fine-tunes a model folder on a chat JSONL (kiln data make): kiln sft --model DIR "
                "--data train.jsonl --save-steps 0,10,20,40 -o out/sft. Response-only loss, "
                "normalized over the global batch; flags override the --config file's fields; "
                "--resume DIR continues a run from <out>/checkpoint bit for bit. Writes "
                "<out>/checkpoints/step_<N>/, <out>/checkpoint/, metrics.jsonl, loss.svg and "
                "sft_config.json (docs/sft.md).");
  flags.String("config", &config_path, "SFT config JSON (docs/sft.md); default: defaults");
  flags.String("resume", &resume, "checkpoint folder to continue (its config is the default)");
  flags.String("model", &model, "base model folder (HF / kiln model folder or train checkpoint)");
  flags.String("data", &data, "training JSONL of {prompt, response} records (data.train)");
  flags.String("val_data", &val_data, "validation JSONL (data.val)");
  flags.Double("val_fraction", &val_fraction, "share of --data held out for validation");
  flags.String("tokenizer", &tokenizer, "tokenizer (default: <model>/kiln_tokenizer.json)");
  flags.Int("max_len", &max_len, "max tokens per example (right truncation) and packed row");
  flags.Bool("pack", &pack, "pack each micro-batch's examples into rows of --max-len");
  flags.Bool("shuffle", &shuffle, "seeded shuffle each epoch (--no-shuffle: file order)");
  flags.Int("seed", &seed, "shuffle order and validation split");
  flags.Int("global_batch", &global_batch, "examples per optimizer step");
  flags.Int("micro_batch", &micro_batch, "examples per forward/backward (must divide it)");
  flags.String("normalization", &normalization, "loss normalization: token, sequence or sum");
  flags.Double("min_supervised_share", &min_share,
               "error when fewer tokens than this share are learned");
  flags.String("optimizer", &optimizer, "adamw or sgd");
  flags.Double("lr", &lr, "peak learning rate");
  flags.String("betas", &betas, "AdamW betas 'beta1,beta2'");
  flags.Double("eps", &eps, "AdamW epsilon");
  flags.Double("weight_decay", &weight_decay, "weight decay (matrices only)");
  flags.Double("momentum", &momentum, "SGD momentum");
  flags.Bool("decay_embeddings", &decay_embeddings, "apply weight decay to embeddings too");
  flags.String("schedule", &schedule, "constant, linear or cosine (after warmup)");
  flags.Double("warmup_ratio", &warmup_ratio, "warmup as a share of the steps");
  flags.Int("warmup_steps", &warmup_steps, "warmup steps (instead of --warmup-ratio)");
  flags.Double("min_lr", &min_lr, "learning rate reached at the last step");
  flags.Double("min_ratio", &min_ratio, "min_lr as a share of --lr");
  flags.Double("clip", &clip, "max global gradient norm (0: no clipping)");
  flags.Int("epochs", &epochs, "passes over the data (when --steps is 0)");
  flags.Int("steps", &steps, "optimizer steps (0: from --epochs)");
  flags.Int("stop_after", &stop_after, "stop (and save) after this many steps; resume later");
  flags.String("save_steps", &save_steps, "steps saved to checkpoints/step_<N>, e.g. 0,10,20");
  flags.Int("save_every", &save_every, "also save every N steps (0: never)");
  flags.Int("log_every", &log_every, "progress line every N steps");
  flags.String("out", &out, "output folder (run.out_dir; also -o)");
  flags.Int("threads", &threads, "threads (0: all cores; the bits do not depend on it)");
  flags.String("device", &device, "cpu, cuda, cuda:N or cuda-sim (run.device)");
  flags.String("precision", &precision, "f32 or bf16 (run.precision; bf16: mixed precision)");
  std::string cuda_gemm;
  flags.String("cuda_gemm", &cuda_gemm, kCudaGemmHelp);
  if (int rc = ParseOrExit(flags, ExpandShort(args)); rc >= 0) return rc;
  if (int rc = ApplyCudaGemmFlag(flags, cuda_gemm); rc >= 0) return rc;
  if (!flags.positional().empty()) {
    return Usage("unexpected argument '" + flags.positional()[0] + "' (flags start with --)");
  }

  std::string where = "sft config";
  auto base_or = BaseRunConfig(config_path, resume, train::SftTrainer::CheckpointConfig, &where);
  if (!base_or.ok()) return Fail(base_or.status());
  const Json& base = *base_or;

  Json merged = base;
  std::map<std::string, std::string> flag_of;
  auto set = [&](const char* flag, const std::string& field, Json value) {
    if (!flags.WasSet(flag)) return;
    train::SetField(merged, field, std::move(value));
    std::string name = flag;
    for (auto& c : name) c = c == '_' ? '-' : c;
    flag_of[field] = "--" + name;
  };
  set("model", "model", model);
  set("data", "data.train", data);
  set("val_data", "data.val", val_data);
  set("val_fraction", "data.val_fraction", val_fraction);
  set("tokenizer", "data.tokenizer", tokenizer);
  set("max_len", "data.max_len", max_len);
  set("pack", "data.pack", pack);
  set("shuffle", "data.shuffle", shuffle);
  set("seed", "data.seed", seed);
  set("global_batch", "data.global_batch", global_batch);
  set("micro_batch", "data.micro_batch", micro_batch);
  set("normalization", "data.normalization", normalization);
  set("min_supervised_share", "data.min_supervised_share", min_share);
  set("optimizer", "optim.name", optimizer);
  set("lr", "optim.lr", lr);
  if (flags.WasSet("betas")) {
    auto b = ParseBetas(betas);
    if (!b.ok()) return Usage(std::string(b.status().message()));
    set("betas", "optim.betas", *b);
  }
  set("eps", "optim.eps", eps);
  set("weight_decay", "optim.weight_decay", weight_decay);
  set("momentum", "optim.momentum", momentum);
  set("decay_embeddings", "optim.decay_embeddings", decay_embeddings);
  set("schedule", "optim.schedule", schedule);
  set("warmup_ratio", "optim.warmup_ratio", warmup_ratio);
  set("warmup_steps", "optim.warmup_steps", warmup_steps);
  if (flags.WasSet("warmup_steps") && !flags.WasSet("warmup_ratio")) {
    train::SetField(merged, "optim.warmup_ratio", 0.0);  // steps replace the (default) ratio
  }
  set("min_lr", "optim.min_lr", min_lr);
  set("min_ratio", "optim.min_ratio", min_ratio);
  set("clip", "optim.clip", clip);
  set("epochs", "run.epochs", epochs);
  set("steps", "run.steps", steps);
  set("stop_after", "run.stop_after", stop_after);
  if (flags.WasSet("save_steps")) {
    auto s = ParseSteps(save_steps);
    if (!s.ok()) return Usage(std::string(s.status().message()));
    set("save_steps", "run.save_steps", *s);
  }
  set("save_every", "run.save_every", save_every);
  set("log_every", "run.log_every", log_every);
  set("out", "run.out_dir", out);
  set("threads", "run.threads", threads);
  set("device", "run.device", device);
  set("precision", "run.precision", precision);
  if (!resume.empty() && !flags.WasSet("stop_after") && merged.contains("run") &&
      merged["run"].is_object()) {
    merged["run"].erase("stop_after");
  }
  if (!resume.empty() && !flags.WasSet("out")) {
    train::SetField(merged, "run.out_dir", OutDirOfCheckpoint(resume));
  }

  auto config = train::SftConfig::FromJson(merged, where, flag_of);
  if (!config.ok()) {
    const std::string msg(config.status().message());
    if (msg.find("(set by --") != std::string::npos || config_path.empty()) return Usage(msg);
    return Fail(config.status());
  }
  if (config->run.threads > 0) kiln::SetNumThreads(static_cast<int>(config->run.threads));

  auto trainer = resume.empty() ? train::SftTrainer::Create(*config)
                                : train::SftTrainer::Resume(resume, *config);
  if (!trainer.ok()) return Fail(trainer.status());
  train::SftTrainer& t = **trainer;
  const train::SftConfig& c = t.config();
  const nn::GptConfig& mc = t.model().config();
  const train::SftExampleSet& ts = t.train_set();
  std::printf(
      "kiln sft: %s %lldx%lld, %lld params; %zu train examples (%lld truncated at %lld tokens, "
      "%.1f%% of tokens supervised), %zu validation examples; global batch %lld = %lld x %lld "
      "micro-batches, %s, %s loss; steps %lld/%lld (%lld per epoch); %d threads, %s path\n",
      mc.is_gpt2() ? "GPT-2" : "Llama", static_cast<long long>(mc.n_layer),
      static_cast<long long>(mc.n_embd), static_cast<long long>(t.model().NumParameters()),
      ts.examples.size(), static_cast<long long>(ts.truncated),
      static_cast<long long>(c.data.max_len), 100 * ts.supervised_share(),
      t.val_set().examples.size(), static_cast<long long>(c.data.global_batch),
      static_cast<long long>(c.data.global_batch / c.data.micro_batch),
      static_cast<long long>(c.data.micro_batch), c.data.pack ? "packed" : "unpacked",
      c.data.normalization.c_str(), static_cast<long long>(t.step()),
      static_cast<long long>(t.total_steps()), static_cast<long long>(t.steps_per_epoch()),
      kiln::NumThreads(), cpu::IsaName(cpu::ActiveIsa()));
  if (ts.truncated > 0) {
    std::printf("kiln sft: %lld of %zu training examples were truncated at max_len %lld\n",
                static_cast<long long>(ts.truncated), ts.examples.size(),
                static_cast<long long>(c.data.max_len));
  }
  std::fflush(stdout);
  if (auto s = t.Run({}); !s.ok()) return Fail(s);

  double loss = NAN, val = NAN;
  for (const Json& m : t.metrics()) {
    if (m.value("type", "") == "train" && m.contains("loss")) loss = m["loss"].get<double>();
    if (m.value("type", "") == "val" && m["val_loss"].is_number()) val = m["val_loss"].get<double>();
  }
  const std::string& dir = c.run.out_dir;
  std::printf("step %lld/%lld: train loss %.4f, validation loss %.4f\n",
              static_cast<long long>(t.step()), static_cast<long long>(t.total_steps()), loss, val);
  std::printf("wrote %s/checkpoints/, %s/checkpoint, %s/metrics.jsonl, %s/loss.svg%s\n",
              dir.c_str(), dir.c_str(), dir.c_str(), dir.c_str(),
              t.step() < t.total_steps()
                  ? absl::StrCat(" (resume: kiln sft --resume ", dir, "/checkpoint)").c_str()
                  : "");
  return kExitOk;
}

}  // namespace kiln::tools
