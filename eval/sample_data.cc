#include "eval/sample_data.h"

#include <chrono>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/progress.h"
#include "base/rng.h"

namespace kiln::eval {

absl::StatusOr<SampleDataResult> SampleDataset(const nn::GptModel& model,
                                               const data::Tokenizer& tok,
                                               const SampleDataOptions& options, bool quiet) {
  if (options.n < 1) {
    return absl::InvalidArgumentError(absl::StrCat("--n: must be >= 1, got ", options.n));
  }
  if (options.k < 1) {
    return absl::InvalidArgumentError(absl::StrCat("--k: must be >= 1, got ", options.k));
  }
  if (options.tasks.empty()) return absl::InvalidArgumentError("--task: no task given");
  EvalConfig sc = options.sampling;
  sc.k = options.k;
  if (auto s = sc.Validate(); !s.ok()) return s;
  auto params = MakeSamplingParams(model, tok, sc);
  if (!params.ok()) return params.status();
  SampleDataResult result;
  const auto start = std::chrono::steady_clock::now();
  for (const std::string& task : options.tasks) {
    data::MakeOptions mo;
    mo.task = task;
    mo.n = options.n;
    mo.seed = options.seed;
    mo.difficulty = options.difficulty;
    mo.split = "train";
    Progress progress(absl::StrCat("sample ", task), options.n, "samples");
    int64_t done = 0;
    data::SampleFn sample = [&](const std::string& prompt, int k, uint64_t seed) {
      auto ids = PromptIds(model, tok, prompt, absl::StrCat(task, "/", done), sc.max_new_tokens);
      KILN_CHECK(ids.ok()) << ids.status().message();
      std::vector<nn::GenerateRequest> requests;
      for (int j = 0; j < k; ++j) {
        const Philox4x32 b = Philox(seed, static_cast<uint64_t>(j), 7);
        requests.push_back({*ids, ((static_cast<uint64_t>(b.v[0]) << 32) | b.v[1]) >> 11});
      }
      std::vector<std::string> texts;
      for (RawSample& r : GenerateRaw(model, tok, requests, *params)) {
        texts.push_back(HasUnclosedThink(r.response) ? std::string() : std::move(r.response));
      }
      ++done;
      result.samples += k;
      if (!quiet) {
        progress.Update(done, {}, static_cast<double>(done * k));
      }
      return texts;
    };
    int64_t dropped = 0;
    data::TeacherStats stats;
    absl::StatusOr<std::vector<data::Record>> records;
    try {
      records = data::MakeTeacherDataset(mo, sample, static_cast<int>(options.k), &dropped,
                                         &stats, options.keep_all);
    } catch (const std::exception& e) {
      return absl::InvalidArgumentError(e.what());
    }
    if (!quiet) progress.Finish();
    if (!records.ok()) return records.status();
    result.by_task[task] = stats;
    for (data::Record& r : *records) result.records.push_back(std::move(r));
  }
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

Json AcceptanceJson(const SampleDataResult& result) {
  Json tasks = Json::object();
  for (const auto& [task, s] : result.by_task) {
    tasks[task] = {
        {"prompts", s.prompts},
        {"samples", s.samples},
        {"verified_samples", s.verified_samples},
        {"prompts_with_verified", s.prompts_with_verified},
        {"records", s.records},
        {"sample_acceptance_rate",
         s.samples ? static_cast<double>(s.verified_samples) / static_cast<double>(s.samples) : 0},
        {"prompt_acceptance_rate",
         s.prompts ? static_cast<double>(s.prompts_with_verified) / static_cast<double>(s.prompts)
                   : 0}};
  }
  return {{"tasks", tasks},
          {"samples", result.samples},
          {"seconds", result.seconds},
          {"samples_per_s",
           result.seconds > 0 ? static_cast<double>(result.samples) / result.seconds : 0}};
}

}  // namespace kiln::eval
