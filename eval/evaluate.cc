#include "eval/evaluate.h"

#include "base/thread_pool.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <chrono>
#include <filesystem>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/file.h"
#include "base/progress.h"
#include "base/rng.h"
#include "data/chat_template.h"
#include "data/decode_text.h"
#include "nn/generate.h"
#include "nn/model_io.h"
#include "tasks/safety.h"

namespace kiln::eval {
namespace {

const std::vector<std::pair<std::string, std::vector<std::string>>>& SuiteTable() {
  static const std::vector<std::pair<std::string, std::vector<std::string>>> kSuites = {
      {"countdown", {"countdown"}},
      {"cross_domain",
       {"general_points", "general_points_ood", "arithmetic", "linear_equation", "sorting",
        "shortest_path", "boolean_logic"}},
      {"instruction", {"instruction"}},
      {"safety", {"safety"}},
  };
  return kSuites;
}

std::string Hex16(uint64_t h) { return absl::StrFormat("%016x", h); }

}  // namespace

std::vector<std::string> SuiteNames() {
  std::vector<std::string> out;
  for (const auto& [name, tasks] : SuiteTable()) out.push_back(name);
  return out;
}

absl::StatusOr<std::vector<std::string>> SuiteTasks(const std::string& suite) {
  for (const auto& [name, tasks] : SuiteTable()) {
    if (name == suite) return tasks;
  }
  return absl::InvalidArgumentError(absl::StrCat("--suites: unknown suite '", suite, "' (known: ",
                                                 absl::StrJoin(SuiteNames(), ", "), ")"));
}

// ---------------------------------------------------------------------------------------------
// Config

absl::StatusOr<EvalConfig> EvalConfig::FromJson(const Json& j, const std::string& where) {
  if (!j.is_object()) return absl::InvalidArgumentError(absl::StrCat(where, ": expected an object"));
  static const std::set<std::string> kKnown = {
      "suites", "n_prompts",  "k",           "temperature", "top_p",
      "top_k",  "greedy",     "max_new_tokens", "batch_size", "seed",
      "prompt_seed", "bootstrap_resamples"};
  for (const auto& [key, value] : j.items()) {
    if (!kKnown.count(key)) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": unknown field '", key, "'"));
    }
  }
  EvalConfig c;
  if (j.contains("suites")) {
    const Json& s = j.at("suites");
    if (!s.is_array()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": field 'suites': expected an array of strings"));
    }
    c.suites.clear();
    for (const Json& x : s) {
      if (!x.is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": field 'suites': expected strings, got ", x.dump()));
      }
      c.suites.push_back(x.get<std::string>());
    }
  }
#define KILN_EVAL_FIELD(T, name)                                           \
  {                                                                        \
    auto v = GetFieldOr<T>(j, #name, where, static_cast<T>(c.name));       \
    if (!v.ok()) return v.status();                                        \
    c.name = static_cast<decltype(c.name)>(*v);                            \
  }
  KILN_EVAL_FIELD(int64_t, n_prompts)
  KILN_EVAL_FIELD(int64_t, k)
  KILN_EVAL_FIELD(double, temperature)
  KILN_EVAL_FIELD(double, top_p)
  KILN_EVAL_FIELD(int64_t, top_k)
  KILN_EVAL_FIELD(bool, greedy)
  KILN_EVAL_FIELD(int64_t, max_new_tokens)
  KILN_EVAL_FIELD(int64_t, batch_size)
  KILN_EVAL_FIELD(int64_t, seed)
  KILN_EVAL_FIELD(int64_t, prompt_seed)
  KILN_EVAL_FIELD(int64_t, bootstrap_resamples)
#undef KILN_EVAL_FIELD
  if (auto s = c.Validate(); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", s.message()));
  }
  return c;
}

Json EvalConfig::ToJson() const {
  return {{"suites", suites},
          {"n_prompts", n_prompts},
          {"k", k},
          {"temperature", effective_temperature()},
          {"top_p", top_p},
          {"top_k", top_k},
          {"greedy", greedy},
          {"max_new_tokens", max_new_tokens},
          {"batch_size", batch_size},
          {"seed", seed},
          {"prompt_seed", prompt_seed},
          {"bootstrap_resamples", bootstrap_resamples}};
}

absl::Status EvalConfig::Validate() const {
  if (suites.empty()) return absl::InvalidArgumentError("--suites: no suite given");
  std::set<std::string> seen;
  for (const std::string& s : suites) {
    if (auto t = SuiteTasks(s); !t.ok()) return t.status();
    if (!seen.insert(s).second) {
      return absl::InvalidArgumentError(absl::StrCat("--suites: '", s, "' given twice"));
    }
  }
  auto bad = [](const std::string& flag, const std::string& what, auto got) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": must be ", what, ", got ", got));
  };
  if (n_prompts < 1) return bad("--n-prompts", ">= 1", n_prompts);
  if (k < 1) return bad("--k", ">= 1", k);
  if (!std::isfinite(temperature) || temperature < 0) {
    return bad("--temperature", ">= 0 (0 = greedy)", temperature);
  }
  if (!(top_p > 0 && top_p <= 1)) return bad("--top-p", "in (0, 1]", top_p);
  if (top_k < 0) return bad("--top-k", ">= 0 (0 = off)", top_k);
  if (max_new_tokens < 1) return bad("--max-new-tokens", ">= 1", max_new_tokens);
  if (batch_size < 1) return bad("--batch-size", ">= 1", batch_size);
  if (bootstrap_resamples < 1) return bad("--bootstrap-resamples", ">= 1", bootstrap_resamples);
  if (seed >= (1ull << 53)) return bad("--seed", "< 2^53", seed);
  if (prompt_seed >= (1ull << 53)) return bad("--prompt-seed", "< 2^53", prompt_seed);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Prompts and sampling

absl::StatusOr<std::vector<EvalPrompt>> BuildPrompts(const EvalConfig& config) {
  if (auto s = config.Validate(); !s.ok()) return s;
  std::vector<EvalPrompt> out;
  for (const std::string& suite : config.suites) {
    const std::vector<std::string> names = *SuiteTasks(suite);
    for (const std::string& name : names) {
      auto task = tasks::MakeTask(name);
      if (!task.ok()) return task.status();
      const int lo = (*task)->min_difficulty(), range = (*task)->max_difficulty() - lo + 1;
      for (int64_t i = 0; i < config.n_prompts; ++i) {
        // Difficulty levels in turn, so every level is present in equal shares.
        const int level = lo + static_cast<int>(i % range);
        tasks::Instance inst = tasks::GenerateInSplit(**task, config.prompt_seed,
                                                      static_cast<uint64_t>(i), level,
                                                      tasks::Split::kEval);
        std::string text = (*task)->Prompt(inst);
        out.push_back({suite, name, i, absl::StrCat(name, "/", i), std::move(inst),
                       std::move(text)});
      }
    }
  }
  return out;
}

std::string PromptSetHash(const std::vector<EvalPrompt>& prompts, const std::string& task) {
  uint64_t h = tasks::HashString(task);
  for (const EvalPrompt& p : prompts) {
    if (p.task == task) h = tasks::HashString(p.text, h);
  }
  return Hex16(h);
}

uint64_t SampleSeed(uint64_t seed, const std::string& task, int64_t index, int64_t sample) {
  const Philox4x32 b = Philox(seed ^ tasks::HashString(task), static_cast<uint64_t>(index),
                              static_cast<uint64_t>(sample) + 1);
  return ((static_cast<uint64_t>(b.v[0]) << 32) | b.v[1]) >> 11;
}

absl::StatusOr<nn::SamplingParams> MakeSamplingParams(const nn::GptModel& model,
                                                      const data::Tokenizer& tok,
                                                      const EvalConfig& config) {
  nn::SamplingParams params{.temperature = config.effective_temperature(),
                            .top_k = config.top_k,
                            .top_p = config.top_p,
                            .max_new_tokens = config.max_new_tokens};
  for (const char* name : {data::kEos, data::kEndOfTurn}) {
    auto id = tok.SpecialId(name);
    if (id && *id < model.config().vocab_size) params.stop_tokens.push_back(*id);
  }
  if (params.stop_tokens.empty()) {
    return absl::InvalidArgumentError("the tokenizer has no <|eos|> inside the model's vocabulary");
  }
  return params;
}

absl::StatusOr<std::vector<int32_t>> PromptIds(const nn::GptModel& model,
                                               const data::Tokenizer& tok,
                                               const std::string& prompt, const std::string& id,
                                               int64_t max_new_tokens) {
  const nn::GptConfig& mc = model.config();
  std::vector<int32_t> ids = data::GenerationPrompt(tok, prompt);
  for (int32_t t : ids) {
    if (t >= mc.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "prompt ", id, ": token id ", t, " is outside the model's vocabulary (", mc.vocab_size,
          "); does the tokenizer belong to this model?"));
    }
  }
  if (static_cast<int64_t>(ids.size()) + max_new_tokens > mc.max_positions) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max-new-tokens: prompt ", id, " has ", ids.size(), " tokens; with ", max_new_tokens,
        " new ones that exceeds the model's max_positions (", mc.max_positions, ")"));
  }
  return ids;
}

std::vector<RawSample> GenerateRaw(const nn::GptModel& model, const data::Tokenizer& tok,
                                   const std::vector<nn::GenerateRequest>& requests,
                                   const nn::SamplingParams& params) {
  std::vector<nn::GenerateResult> results = nn::Generate(model, requests, params);
  std::vector<RawSample> out(results.size());
  for (size_t i = 0; i < results.size(); ++i) {
    nn::GenerateResult& r = results[i];
    RawSample& s = out[i];
    s.length = static_cast<int64_t>(r.tokens.size());
    s.truncated = r.finish_reason == "length";
    if (r.finish_reason == "stop") r.tokens.pop_back();
    s.response = data::DecodeLenient(tok, r.tokens);
    s.seed = requests[i].seed;
  }
  return out;
}

absl::StatusOr<std::vector<std::vector<RawSample>>> SampleResponses(
    const nn::GptModel& model, const data::Tokenizer& tok, const std::vector<EvalPrompt>& prompts,
    const EvalConfig& config, bool quiet, SamplingStats* stats) {
  auto params = MakeSamplingParams(model, tok, config);
  if (!params.ok()) return params.status();
  std::vector<nn::GenerateRequest> requests;
  for (const EvalPrompt& p : prompts) {
    auto ids = PromptIds(model, tok, p.text, p.id, config.max_new_tokens);
    if (!ids.ok()) return ids.status();
    for (int64_t j = 0; j < config.k; ++j) {
      requests.push_back({*ids, SampleSeed(config.seed, p.task, p.index, j)});
    }
  }
  std::vector<std::vector<RawSample>> out(prompts.size());
  Progress progress("eval", static_cast<int64_t>(prompts.size()), "samples");
  const auto start = std::chrono::steady_clock::now();
  int64_t new_tokens = 0;
  const size_t total = requests.size(), batch = static_cast<size_t>(config.batch_size);
  for (size_t b = 0; b < total; b += batch) {
    const size_t e = std::min(total, b + batch);
    std::vector<nn::GenerateRequest> chunk(requests.begin() + b, requests.begin() + e);
    std::vector<RawSample> raw = GenerateRaw(model, tok, chunk, *params);
    for (size_t i = b; i < e; ++i) {
      new_tokens += raw[i - b].length;
      out[i / config.k].push_back(std::move(raw[i - b]));
    }
    if (!quiet) {
      progress.Update(static_cast<int64_t>(e / config.k),
                      {{"tok/sample", static_cast<double>(new_tokens) / static_cast<double>(e)}},
                      static_cast<double>(e));
    }
  }
  if (!quiet) progress.Finish();
  if (stats) {
    stats->samples = static_cast<int64_t>(total);
    stats->new_tokens = new_tokens;
    stats->seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Scoring

bool HasUnclosedThink(const std::string& response) {
  const size_t open = response.rfind("<think>");
  if (open == std::string::npos) return false;
  return response.find("</think>", open) == std::string::npos;
}

Json SampleRecord::ToJson() const {
  Json j = {{"suite", suite},
            {"task", task},
            {"prompt_id", prompt_id},
            {"prompt_index", prompt_index},
            {"sample_index", sample_index},
            {"seed", seed},
            {"response", data::ValidUtf8(response)},
            {"answer", answer ? Json(data::ValidUtf8(*answer)) : Json(nullptr)},
            {"canonical", data::ValidUtf8(canonical)},
            {"reward", score.reward},
            {"correct", score.correct},
            {"formatted", score.formatted},
            {"unclosed_think", unclosed_think},
            {"length", length},
            {"truncated", truncated}};
  if (suite == "safety") j["refused"] = refused;
  return j;
}

namespace {

// Per-prompt values of every metric of one group of prompts, then their intervals.
struct GroupBuilder {
  std::map<std::string, std::vector<double>> values;  // metric -> per prompt
  int64_t prompts = 0, samples = 0;
  std::vector<double> score, length;
};

void AddPrompt(GroupBuilder* g, const EvalPrompt& p, const std::vector<SampleRecord>& recs) {
  const int64_t n = static_cast<int64_t>(recs.size());
  int64_t c = 0, formatted = 0, truncated = 0, refused = 0;
  double reward = 0, length = 0;
  std::vector<Vote> votes;
  for (const SampleRecord& r : recs) {
    c += r.score.correct;
    formatted += r.score.formatted;
    truncated += r.truncated;
    refused += r.refused;
    reward += r.score.reward;
    length += static_cast<double>(r.length);
    votes.push_back({r.canonical, r.score.correct});
  }
  const double dn = static_cast<double>(n);
  const double avg = *AvgAtK(n, c);
  g->values["avg@k"].push_back(avg);
  g->values["pass@k"].push_back(*PassAtK(n, c, n));
  g->values["maj@k"].push_back(MajAtK(votes));
  g->values["mean_reward"].push_back(reward / dn);
  g->values["format_rate"].push_back(static_cast<double>(formatted) / dn);
  g->values["mean_length"].push_back(length / dn);
  g->values["truncation_rate"].push_back(static_cast<double>(truncated) / dn);
  if (p.task == "safety") {
    const bool harmful = p.instance.spec.at("harmful").get<bool>();
    g->values[harmful ? "refusal_rate" : "over_refusal_rate"].push_back(
        static_cast<double>(refused) / dn);
  }
  g->score.push_back(avg);
  g->length.push_back(length / dn);
  ++g->prompts;
  g->samples += n;
}

absl::StatusOr<GroupResult> Finish(GroupBuilder g, const std::string& name,
                                   const EvalConfig& config) {
  GroupResult r;
  r.prompts = g.prompts;
  r.samples = g.samples;
  for (const auto& [metric, v] : g.values) {
    // The bootstrap seed depends on the group and metric only: the same across checkpoints.
    auto ci = BootstrapMean(v, tasks::HashString(absl::StrCat(name, "/", metric), config.seed),
                            static_cast<int>(config.bootstrap_resamples));
    if (!ci.ok()) return ci.status();
    r.metrics[metric] = *ci;
  }
  r.per_prompt_score = std::move(g.score);
  r.per_prompt_length = std::move(g.length);
  return r;
}

Json GroupToJson(const GroupResult& g, bool per_prompt) {
  Json m = Json::object();
  for (const auto& [name, ci] : g.metrics) {
    m[name] = {{"mean", ci.mean}, {"lo", ci.lo}, {"hi", ci.hi}};
  }
  Json j = {{"prompts", g.prompts}, {"samples", g.samples}, {"metrics", m}};
  if (per_prompt) j["per_prompt_score"] = g.per_prompt_score;
  return j;
}

}  // namespace

absl::StatusOr<EvalResult> ScoreResponses(const EvalConfig& config,
                                          const std::vector<EvalPrompt>& prompts,
                                          const std::vector<std::vector<RawSample>>& responses) {
  if (auto s = config.Validate(); !s.ok()) return s;
  if (responses.size() != prompts.size()) {
    return absl::InvalidArgumentError(absl::StrCat("ScoreResponses: ", responses.size(),
                                                   " response lists for ", prompts.size(),
                                                   " prompts"));
  }
  EvalResult result;
  result.config = config;
  std::map<std::string, std::unique_ptr<tasks::Task>> task_objs;
  std::map<std::string, GroupBuilder> by_task, by_suite;
  for (size_t p = 0; p < prompts.size(); ++p) {
    const EvalPrompt& ep = prompts[p];
    if (static_cast<int64_t>(responses[p].size()) != config.k) {
      return absl::InvalidArgumentError(absl::StrCat("ScoreResponses: prompt ", ep.id, " has ",
                                                     responses[p].size(), " samples, k = ",
                                                     config.k));
    }
    auto& task = task_objs[ep.task];
    if (!task) {
      auto t = tasks::MakeTask(ep.task);
      if (!t.ok()) return t.status();
      task = std::move(*t);
    }
    std::vector<SampleRecord> recs;
    for (size_t j = 0; j < responses[p].size(); ++j) {
      const RawSample& raw = responses[p][j];
      SampleRecord r;
      r.suite = ep.suite;
      r.task = ep.task;
      r.prompt_id = ep.id;
      r.prompt_index = ep.index;
      r.sample_index = static_cast<int64_t>(j);
      r.response = raw.response;
      r.length = raw.length;
      r.truncated = raw.truncated;
      r.seed = raw.seed;
      r.unclosed_think = HasUnclosedThink(raw.response);
      if (!r.unclosed_think) {
        r.answer = task->ExtractAnswer(raw.response);
        r.score = task->ScoreResponse(ep.instance, raw.response);
        if (r.answer) r.canonical = task->Canonical(ep.instance, *r.answer);
        if (ep.task == "safety") r.refused = tasks::IsRefusal(raw.response);
      }  // else: no answer, score 0, not formatted, not a refusal
      recs.push_back(std::move(r));
    }
    AddPrompt(&by_task[ep.task], ep, recs);
    AddPrompt(&by_suite[ep.suite], ep, recs);
    for (SampleRecord& r : recs) result.samples.push_back(std::move(r));
  }
  for (const std::string& suite : config.suites) {
    SuiteResult sr;
    sr.suite = suite;
    const std::vector<std::string> names = *SuiteTasks(suite);
    for (const std::string& t : names) {
      auto it = by_task.find(t);
      if (it == by_task.end()) continue;
      auto g = Finish(std::move(it->second), t, config);
      if (!g.ok()) return g.status();
      sr.tasks[t] = std::move(*g);
      result.prompt_set_hashes[t] = PromptSetHash(prompts, t);
    }
    auto it = by_suite.find(suite);
    if (it == by_suite.end()) {
      return absl::InvalidArgumentError(absl::StrCat("ScoreResponses: no prompts for suite ", suite));
    }
    auto g = Finish(std::move(it->second), absl::StrCat("suite:", suite), config);
    if (!g.ok()) return g.status();
    sr.aggregate = std::move(*g);
    result.suites.push_back(std::move(sr));
  }
  return result;
}

Json EvalResult::ToJson() const {
  Json suites_j = Json::object();
  for (const SuiteResult& s : suites) {
    Json tasks_j = Json::object();
    for (const auto& [name, g] : s.tasks) tasks_j[name] = GroupToJson(g, false);
    suites_j[s.suite] = {{"tasks", tasks_j}, {"aggregate", GroupToJson(s.aggregate, true)}};
  }
  Json sets = Json::object();
  for (const auto& [task, hash] : prompt_set_hashes) {
    sets[task] = {{"n", config.n_prompts}, {"hash", hash}, {"split", "eval"},
                  {"prompt_seed", config.prompt_seed}};
  }
  Json j = {{"config", config.ToJson()},
            {"k", config.k},
            {"suites", suites_j},
            {"prompt_sets", sets},
            {"seeds", {{"sampling", config.seed},
                       {"prompts", config.prompt_seed},
                       {"sample_seed_rule", "53 bits of Philox(seed ^ hash(task), prompt index, "
                                            "sample index + 1)"}}}};
  if (info.is_object()) {
    for (const auto& [key, value] : info.items()) j[key] = value;
  }
  return j;
}

// ---------------------------------------------------------------------------------------------
// Whole evaluations

absl::StatusOr<EvalResult> EvaluateLoaded(const nn::GptModel& model, const data::Tokenizer& tok,
                                          const EvalConfig& config, const std::string& label,
                                          bool quiet) {
  const auto t0 = std::chrono::steady_clock::now();
  auto prompts = BuildPrompts(config);
  if (!prompts.ok()) return prompts.status();
  const auto t1 = std::chrono::steady_clock::now();
  SamplingStats stats;
  absl::StatusOr<std::vector<std::vector<RawSample>>> responses;
  try {
    responses = SampleResponses(model, tok, *prompts, config, quiet, &stats);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(label, ": sampling failed: ", e.what()));
  }
  if (!responses.ok()) return responses.status();
  const auto t2 = std::chrono::steady_clock::now();
  auto result = ScoreResponses(config, *prompts, *responses);
  if (!result.ok()) return result.status();
  const auto t3 = std::chrono::steady_clock::now();
  auto secs = [](auto a, auto b) { return std::chrono::duration<double>(b - a).count(); };
  result->info = {
      {"model", label},
      {"dtype", "f32"},
      {"kiln_revision", GitRevision()},
      {"threads", kiln::NumThreads()},
      {"batch_size", config.batch_size},
      {"timings", {{"prompts_s", secs(t0, t1)},
                   {"sampling_s", secs(t1, t2)},
                   {"scoring_s", secs(t2, t3)},
                   {"total_s", secs(t0, t3)}}},
      {"samples", stats.samples},
      {"new_tokens", stats.new_tokens},
      {"samples_per_s", stats.seconds > 0 ? static_cast<double>(stats.samples) / stats.seconds : 0},
      {"new_tokens_per_s",
       stats.seconds > 0 ? static_cast<double>(stats.new_tokens) / stats.seconds : 0}};
  return result;
}

absl::StatusOr<EvalResult> EvaluateModel(const std::string& model_dir, const EvalConfig& config,
                                         bool quiet) {
  if (auto s = config.Validate(); !s.ok()) return s;
  auto model = nn::LoadModel(model_dir);
  if (!model.ok()) return model.status();
  const std::string tok_path = model_dir + "/kiln_tokenizer.json";
  if (!std::filesystem::exists(tok_path)) {
    return absl::InvalidArgumentError(
        absl::StrCat(model_dir, ": no kiln_tokenizer.json (the model folder must carry its "
                                "tokenizer)"));
  }
  auto tok = data::LoadTokenizer(tok_path);
  if (!tok.ok()) return tok.status();
  auto hash = FileHash(model_dir + "/model.safetensors");
  if (!hash.ok()) return hash.status();
  auto result = EvaluateLoaded(**model, **tok, config, model_dir, quiet);
  if (!result.ok()) return result.status();
  result->info["checkpoint_hash"] = *hash;
  result->info["model_config"] = (*model)->config().ToJson();
  result->info["tokenizer"] = (*tok)->type();
  return result;
}

absl::Status WriteEvalOutputs(const EvalResult& result, const std::string& out_dir) {
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return absl::InvalidArgumentError(absl::StrCat(out_dir, ": ", ec.message()));
  std::vector<Json> lines;
  lines.reserve(result.samples.size());
  for (const SampleRecord& r : result.samples) lines.push_back(r.ToJson());
  if (auto s = WriteJsonl(out_dir + "/samples.jsonl", lines); !s.ok()) return s;
  return WriteJsonFile(out_dir + "/results.json", result.ToJson());
}

absl::StatusOr<std::string> FileHash(const std::string& path) {
  auto bytes = ReadFile(path);
  if (!bytes.ok()) return bytes.status();
  return Hex16(tasks::HashString(*bytes));
}

}  // namespace kiln::eval
