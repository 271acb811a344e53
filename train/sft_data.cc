#include "train/sft_data.h"

#include <sstream>

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "train/sft_batch.h"

namespace kiln::train {

absl::StatusOr<std::vector<SftRecord>> ReadSftJsonl(const std::string& path) {
  auto text = ReadFile(path);
  if (!text.ok()) return text.status();
  std::vector<SftRecord> out;
  std::istringstream in(*text);
  std::string line;
  for (int64_t lineno = 1; std::getline(in, line); ++lineno) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = absl::StrCat(path, ":", lineno);
    auto j = ParseJson(line, where);
    if (!j.ok()) return j.status();
    if (!j->is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": expected a JSON object"));
    }
    SftRecord r;
    r.line = lineno;
    auto prompt = GetField<std::string>(*j, "prompt", where);
    if (!prompt.ok()) return prompt.status();
    if (!j->contains("response")) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": field 'response': missing (an SFT record needs one)"));
    }
    auto response = GetField<std::string>(*j, "response", where);
    if (!response.ok()) return response.status();
    if (response->empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": field 'response': empty (nothing to learn but EOS)"));
    }
    r.prompt = std::move(*prompt);
    r.response = std::move(*response);
    out.push_back(std::move(r));
  }
  if (out.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": no records"));
  }
  return out;
}

Json SftExampleSet::StatsJson() const {
  return Json{{"examples", examples.size()},
              {"truncated", truncated},
              {"tokens", tokens},
              {"supervised_tokens", supervised},
              {"supervised_share", supervised_share()}};
}

absl::StatusOr<SftExampleSet> TokenizeSft(const std::vector<SftRecord>& records,
                                          const data::Tokenizer& tok, int max_len,
                                          const std::string& path) {
  SftExampleSet set;
  set.examples.reserve(records.size());
  for (const SftRecord& r : records) {
    auto ex = data::TokenizeExample(tok, r.prompt, r.response, {.max_len = max_len});
    if (!ex.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ":", r.line, ": ", ex.status().message(),
                                                     " (data.max_len, --max-len)"));
    }
    set.truncated += ex->truncated;
    set.tokens += ex->length;
    set.supervised += SupervisedTokens(*ex);
    set.examples.push_back(std::move(*ex));
  }
  return set;
}

}  // namespace kiln::train
