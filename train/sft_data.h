// The data side of `kiln sft`: reads a JSONL of {"prompt", "response", ...} records (the files
// `kiln data make` writes; other fields are ignored), and tokenizes them with the chat template
// (data/chat_template.h), EOS appended and truncated on the right at max_len.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/json.h"
#include "data/chat_template.h"
#include "data/tokenizer.h"

namespace kiln::train {

struct SftRecord {
  std::string prompt, response;
  int64_t line = 0;  // 1-based line in the file
};

// Every non-blank line must be an object with a string "prompt" and a non-empty string
// "response"; errors are one line "<path>:<line>: ...".
absl::StatusOr<std::vector<SftRecord>> ReadSftJsonl(const std::string& path);

struct SftExampleSet {
  std::vector<data::TokenizedExample> examples;  // unpadded
  int64_t truncated = 0;   // examples cut at max_len (their tail and EOS are not learned)
  int64_t tokens = 0;      // tokens of all examples
  int64_t supervised = 0;  // loss-mask positions of all examples
  double supervised_share() const {
    return tokens > 0 ? static_cast<double>(supervised) / static_cast<double>(tokens) : 0.0;
  }
  Json StatsJson() const;
};

// `path` names the file in messages (a prompt too long for max_len names its line).
absl::StatusOr<SftExampleSet> TokenizeSft(const std::vector<SftRecord>& records,
                                          const data::Tokenizer& tok, int max_len,
                                          const std::string& path);

}  // namespace kiln::train
