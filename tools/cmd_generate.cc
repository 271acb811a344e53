// `kiln generate`: sample completions from a model folder (nn/generate.h, docs/generation.md).
// Prompts come from repeated --prompt flags or a JSONL file; every prompt gets --num-samples
// completions, each with its own seed, all decoded as one ragged batch. Each completion goes to
// stdout, a throughput line to stderr, and with -o one JSONL record per completion.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/json.h"
#include "base/progress.h"
#include "base/rng.h"
#include "base/thread_pool.h"
#include "data/decode_text.h"
#include "data/tokenizer.h"
#include "nn/generate.h"
#include "nn/model_io.h"
#include "autograd/grad_mode.h"
#include "tensor/device_memory.h"
#include "train/common.h"
#include "tools/run_util.h"

namespace kiln::tools {
namespace {

// FlagSet keeps one value per flag, but --prompt may repeat: its values are taken out first.
// "-o x" is the one short flag.
absl::StatusOr<std::vector<std::string>> TakePrompts(const std::vector<std::string>& args,
                                                     std::vector<std::string>* rest) {
  std::vector<std::string> prompts;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--prompt") {
      if (i + 1 == args.size()) return absl::InvalidArgumentError("--prompt: missing value");
      prompts.push_back(args[++i]);
    } else if (a.rfind("--prompt=", 0) == 0) {
      prompts.push_back(a.substr(9));
    } else {
      rest->push_back(a == "-o" ? "--out" : a);
    }
  }
  return prompts;
}

struct Prompt {
  std::string text;
  std::optional<uint64_t> seed;  // from a prompts file
  std::string where;             // "--prompt 2", "file.jsonl: record 3"
};

absl::StatusOr<std::vector<Prompt>> ReadPrompts(const std::string& path) {
  auto records = ReadJsonl(path);
  if (!records.ok()) return records.status();
  std::vector<Prompt> out;
  for (size_t i = 0; i < records->size(); ++i) {
    const std::string where = absl::StrCat(path, ": record ", i + 1);
    auto text = GetField<std::string>((*records)[i], "prompt", where);
    if (!text.ok()) return text.status();
    auto seed = GetFieldOr<int64_t>((*records)[i], "seed", where, -1);
    if (!seed.ok()) return seed.status();
    Prompt p{*text, std::nullopt, where};
    if ((*records)[i].contains("seed")) {
      if (*seed < 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": field 'seed': expected a non-negative integer, got ", *seed));
      }
      p.seed = static_cast<uint64_t>(*seed);
    }
    out.push_back(std::move(p));
  }
  if (out.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no prompts"));
  return out;
}

// An explicit --tokenizer wins; otherwise the model folder's kiln_tokenizer.json.
absl::StatusOr<std::unique_ptr<data::Tokenizer>> OpenTokenizer(const std::string& dir,
                                                               const std::string& spec) {
  if (spec.empty()) {
    const std::string path = dir + "/kiln_tokenizer.json";
    if (!std::filesystem::exists(path)) {
      return absl::InvalidArgumentError(
          absl::StrCat(dir, ": no kiln_tokenizer.json; pass --tokenizer byte or --tokenizer PATH"));
    }
    return data::LoadTokenizer(path);
  }
  auto tok = data::ResolveTokenizer(spec);  // "byte", "gpt2" or a tokenizer JSON path
  if (!tok.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--tokenizer: ", tok.status().message()));
  }
  return tok;
}

// --stop: comma-separated token ids, special-token names ("<|eos|>") or texts of one token.
absl::StatusOr<std::vector<int32_t>> ParseStops(const std::string& spec, const data::Tokenizer& tok,
                                                int64_t vocab) {
  std::vector<int32_t> ids;
  const std::vector<std::string> items = absl::StrSplit(spec, ',', absl::SkipEmpty());
  for (const std::string& item : items) {
    int64_t id;
    if (absl::SimpleAtoi(item, &id)) {
      if (id < 0 || id >= vocab) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--stop: token id ", id, " is outside the model's vocabulary [0, ", vocab, ")"));
      }
      ids.push_back(static_cast<int32_t>(id));
    } else if (auto special = tok.SpecialId(item)) {
      ids.push_back(*special);
    } else if (auto enc = tok.Encode(item); enc.size() == 1) {
      ids.push_back(enc[0]);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "--stop: '", item, "' is not a token id, a special token or the text of one token"));
    }
  }
  return ids;
}

// Seed of completion i when the prompt brings none: 53 bits of Philox(--seed, i) (counter high
// word 1, apart from the sampling draws), so JSON readers that hold numbers as doubles keep it.
uint64_t DeriveSeed(uint64_t seed, uint64_t i) {
  const Philox4x32 b = Philox(seed, i, 1);
  return ((static_cast<uint64_t>(b.v[0]) << 32) | b.v[1]) >> 11;
}

}  // namespace

int RunGenerate(const std::vector<std::string>& raw_args) {
  std::string model_dir, prompts_file, tokenizer_spec, stop, out, prompt_help, device_name = "cpu",
                                  precision = "f32", cuda_gemm;
  int64_t max_new = 64, top_k = 0, seed = 1, num_samples = 1, threads = 0;
  double temperature = 1.0, top_p = 1.0;
  bool quiet = false;
  FlagSet flags("generate",
                "Samples completions from a model folder: kiln generate --model DIR --prompt "
                "\"text\" [--prompt ...] --max-new-tokens 64 --temperature 0.8 --top-p 0.95 "
                "--seed 1 -o out.jsonl");
  flags.String("model", &model_dir, "model folder (config.json, model.safetensors)");
  flags.String("prompt", &prompt_help, "prompt text; repeat for several");
  flags.String("prompts", &prompts_file,
               "JSONL file of {\"prompt\": text[, \"seed\": n]} records (instead of --prompt)");
  flags.String("tokenizer", &tokenizer_spec,
               "byte or a tokenizer JSON path (default: the model folder's kiln_tokenizer.json)");
  flags.Int("max_new_tokens", &max_new, "new tokens per completion at most");
  flags.Double("temperature", &temperature, "sampling temperature; 0 = greedy");
  flags.Int("top_k", &top_k, "sample among the k most likely tokens; 0 = all");
  flags.Double("top_p", &top_p, "sample among the most likely tokens of mass >= top_p; 1 = all");
  flags.Int("seed", &seed,
            "completion i without a seed of its own uses 53 bits of Philox(seed, i)");
  flags.String("stop", &stop, "stop tokens: comma-separated ids, special names or one-token texts");
  flags.Int("num_samples", &num_samples, "completions per prompt");
  flags.Int("threads", &threads, "threads (0 = all cores); results do not depend on it");
  flags.String("device", &device_name, "cpu, cuda, cuda:N or cuda-sim (the CUDA kernels run on "
                                       "the CPU through kiln's interpreter)");
  flags.String("precision", &precision, "f32 or bf16 (mixed precision, as the model was trained "
                                        "with `--precision bf16`: the GEMM operands in bf16)");
  flags.String("cuda_gemm", &cuda_gemm, kCudaGemmHelp);
  flags.String("out", &out, "JSONL file of completions to write (also -o)");
  flags.Bool("quiet", &quiet, "do not print the completions");
  std::vector<std::string> args;
  auto prompt_flags = TakePrompts(raw_args, &args);
  if (!prompt_flags.ok()) return Usage(std::string(prompt_flags.status().message()));
  if (int rc = ParseOrExit(flags, args); rc >= 0) return rc;

  if (model_dir.empty()) return Usage("--model: required");
  if (prompt_flags->empty() == prompts_file.empty()) {
    return Usage("give --prompt TEXT (repeatable) or --prompts FILE.jsonl, not both");
  }
  if (max_new < 0) return Usage(absl::StrCat("--max-new-tokens: must be >= 0, got ", max_new));
  if (!std::isfinite(temperature) || temperature < 0) {
    return Usage(absl::StrCat("--temperature: must be >= 0 (0 = greedy), got ", temperature));
  }
  if (top_k < 0) return Usage(absl::StrCat("--top-k: must be >= 0 (0 = off), got ", top_k));
  if (!(top_p > 0 && top_p <= 1)) {
    return Usage(absl::StrCat("--top-p: must be in (0, 1], got ", top_p));
  }
  if (num_samples < 1) return Usage(absl::StrCat("--num-samples: must be >= 1, got ", num_samples));
  if (seed < 0) return Usage(absl::StrCat("--seed: must be >= 0, got ", seed));
  if (threads < 0) return Usage(absl::StrCat("--threads: must be >= 0, got ", threads));
  if (threads > 0) kiln::SetNumThreads(static_cast<int>(threads));
  const auto device = UsableDevice(device_name);
  if (!device.ok()) return Usage(absl::StrCat("--device: ", device.status().message()));
  const auto autocast_dtype = train::ParsePrecision(precision);
  if (!autocast_dtype.ok()) {
    return Usage(absl::StrCat("--precision: ", autocast_dtype.status().message()));
  }
  AutocastGuard autocast(*autocast_dtype);
  if (int rc = ApplyCudaGemmFlag(flags, cuda_gemm); rc >= 0) return rc;

  std::vector<Prompt> prompts;
  if (!prompts_file.empty()) {
    auto read = ReadPrompts(prompts_file);
    if (!read.ok()) return Fail(read.status());
    prompts = std::move(*read);
  } else {
    for (size_t i = 0; i < prompt_flags->size(); ++i) {
      prompts.push_back({(*prompt_flags)[i], std::nullopt, absl::StrCat("--prompt ", i + 1)});
    }
  }
  auto model = nn::LoadModel(model_dir);
  if (!model.ok()) return Fail(model.status());
  (*model)->To(*device);
  const nn::GptConfig& config = (*model)->config();
  auto tok = OpenTokenizer(model_dir, tokenizer_spec);
  if (!tok.ok()) return Fail(tok.status());
  // A tokenizer may know more ids than the model (GPT-2's tokenizer carries kiln's chat specials
  // after id 50256; pretrained GPT-2 has 50257 rows): prompts and stops are checked id by id.
  nn::SamplingParams params{
      .temperature = temperature, .top_k = top_k, .top_p = top_p, .max_new_tokens = max_new};
  auto stops = ParseStops(stop, **tok, config.vocab_size);
  if (!stops.ok()) return Usage(std::string(stops.status().message()));
  params.stop_tokens = *stops;

  // Requests: num_samples per prompt, prompt-major. A prompt's own seed s gives s, s+1, ...
  std::vector<nn::GenerateRequest> requests;
  std::vector<size_t> prompt_of;
  int64_t prompt_tokens = 0;
  for (size_t p = 0; p < prompts.size(); ++p) {
    std::vector<int32_t> ids = (*tok)->Encode(prompts[p].text);
    if (ids.empty()) {
      return Usage(absl::StrCat(prompts[p].where, ": the prompt encodes to no tokens"));
    }
    if (max_new > config.max_positions - static_cast<int64_t>(ids.size())) {
      return Usage(absl::StrCat(
          "--max-new-tokens: ", prompts[p].where, " has ", ids.size(), " tokens; with ", max_new,
          " new ones that exceeds the model's max_positions (", config.max_positions, ")"));
    }
    for (int64_t j = 0; j < num_samples; ++j) {
      const uint64_t i = requests.size();
      const uint64_t s = prompts[p].seed ? *prompts[p].seed + static_cast<uint64_t>(j)
                                         : DeriveSeed(static_cast<uint64_t>(seed), i);
      requests.push_back({ids, s});
      prompt_of.push_back(p);
      prompt_tokens += static_cast<int64_t>(ids.size());
    }
  }

  Progress progress("generate", max_new, "tok");
  const auto start = std::chrono::steady_clock::now();
  auto prefill_end = start;
  int64_t prefill_tokens = 0;
  auto results = nn::Generate(**model, requests, params, [&](const nn::GenerateStep& s) {
    if (s.step == 0) {
      prefill_end = std::chrono::steady_clock::now();
      prefill_tokens = s.tokens_so_far;
    }
    progress.Update(s.step + 1, {{"active", static_cast<double>(s.samples.size())}},
                    static_cast<double>(s.tokens_so_far));
  });
  const auto end = std::chrono::steady_clock::now();
  progress.Finish();

  std::vector<Json> records;
  int64_t new_tokens = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    const nn::GenerateResult& r = results[i];
    const Prompt& p = prompts[prompt_of[i]];
    new_tokens += static_cast<int64_t>(r.tokens.size());
    // The completion's text leaves out the stop token (its id stays in "tokens").
    std::vector<int32_t> text_ids = r.tokens;
    if (r.finish_reason == "stop") text_ids.pop_back();
    const std::string completion = data::DecodeLenient(**tok, text_ids);
    if (!quiet) {
      std::printf("--- completion %zu (prompt %zu, seed %llu, %zu tokens, %s)\n%s%s\n", i,
                  prompt_of[i] + 1, static_cast<unsigned long long>(requests[i].seed),
                  r.tokens.size(), r.finish_reason.c_str(), p.text.c_str(), completion.c_str());
    }
    records.push_back({{"prompt", data::ValidUtf8(p.text)},
                       {"completion", data::ValidUtf8(completion)},
                       {"tokens", r.tokens},
                       {"logprobs", r.logprobs},
                       {"sampling_logprobs", r.sampling_logprobs},
                       {"finish_reason", r.finish_reason},
                       {"seed", requests[i].seed},
                       {"prompt_index", prompt_of[i]}});
  }
  std::fflush(stdout);
  const double secs = std::chrono::duration<double>(end - start).count();
  const double decode_secs = std::chrono::duration<double>(end - prefill_end).count();
  std::fprintf(
      stderr,
      "kiln generate: %zu completions, %lld prompt tokens, %lld new tokens in %.3f s "
      "(prefill %.3f s; decode %.1f tokens/s; overall %.1f new tokens/s; %d threads)\n",
      results.size(), static_cast<long long>(prompt_tokens), static_cast<long long>(new_tokens),
      secs, secs - decode_secs,
      decode_secs > 0 ? static_cast<double>(new_tokens - prefill_tokens) / decode_secs : 0.0,
      secs > 0 ? static_cast<double>(new_tokens) / secs : 0.0, kiln::NumThreads());
  if (!out.empty()) {
    if (auto s = WriteJsonl(out, records); !s.ok()) return Fail(s);
    std::fprintf(stderr, "wrote %zu records to %s\n", records.size(), out.c_str());
  }
  return kExitOk;
}

}  // namespace kiln::tools
