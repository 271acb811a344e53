// The kiln chat template, applied to base models too (as the study does), and the SFT tokenization
// with its loss mask. Layout of one example:
//   <|bos|><|user|>{prompt}<|end|><|assistant|>{response}<|eos|>
// The generation prompt stops after <|assistant|>. Label alignment (the one-token shift):
//   targets[t]   = ids[t+1]                       (pad id where t+1 is past the real tokens)
//   loss_mask[t] = 1 iff ids[t+1] is a response token or the final EOS, else 0
// so position t is trained to predict the next token only where that token belongs to the answer.
// Padding is decided by position (t >= length), never by comparing ids with the pad id, so a pad
// id equal to EOS cannot mask the real EOS out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/tokenizer.h"

namespace kiln::data {

struct TokenizedExample {
  std::vector<int32_t> ids;        // T tokens (padded to max_len when asked)
  std::vector<int32_t> targets;    // T
  std::vector<float> loss_mask;    // T, 0 or 1
  std::vector<int32_t> positions;  // T, 0..length-1, then 0 on padding
  int length = 0;                  // real tokens (<= T)
  int prompt_length = 0;           // tokens up to and including <|assistant|>
  bool truncated = false;          // the response (or its EOS) was cut at max_len
};

struct TemplateOptions {
  int max_len = 1024;
  bool pad_to_max = false;
  std::optional<int32_t> pad_id;  // default: the tokenizer's <|pad|>
};

// The prompt part, ending with the assistant marker: what a sampler starts from.
std::vector<int32_t> GenerationPrompt(const Tokenizer& tok, const std::string& prompt);
// The whole example as text, specials by name (for reading data, not for tokenizing).
std::string RenderChat(const std::string& prompt, const std::string& response);

// Tokenizes prompt + response + EOS, truncates on the right to max_len and builds targets, mask and
// positions. An error when the prompt part alone leaves no room for a response token.
absl::StatusOr<TokenizedExample> TokenizeExample(const Tokenizer& tok, const std::string& prompt,
                                                 const std::string& response,
                                                 const TemplateOptions& options);

}  // namespace kiln::data
