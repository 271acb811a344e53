// Chat template rendering and SFT tokenization (see chat_template.h for the mask convention).
#include "data/chat_template.h"

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace kiln::data {

std::vector<int32_t> GenerationPrompt(const Tokenizer& tok, const std::string& prompt) {
  std::vector<int32_t> ids = {tok.bos_id(), tok.Special(kUser)};
  auto p = tok.Encode(prompt);
  ids.insert(ids.end(), p.begin(), p.end());
  ids.push_back(tok.Special(kEndOfTurn));
  ids.push_back(tok.Special(kAssistant));
  return ids;
}

std::string RenderChat(const std::string& prompt, const std::string& response) {
  return absl::StrCat(kBos, kUser, prompt, kEndOfTurn, kAssistant, response, kEos);
}

absl::StatusOr<TokenizedExample> TokenizeExample(const Tokenizer& tok, const std::string& prompt,
                                                 const std::string& response,
                                                 const TemplateOptions& options) {
  KILN_CHECK(options.max_len >= 2)
      << "TokenizeExample: max_len must be >= 2, got " << options.max_len;
  TokenizedExample ex;
  ex.ids = GenerationPrompt(tok, prompt);
  ex.prompt_length = static_cast<int>(ex.ids.size());
  if (ex.prompt_length >= options.max_len) {
    return absl::InvalidArgumentError(
        absl::StrCat("prompt is ", ex.prompt_length,
                     " tokens with the chat template, which leaves no room for "
                     "a response within the maximum length ",
                     options.max_len));
  }
  auto r = tok.Encode(response);
  ex.ids.insert(ex.ids.end(), r.begin(), r.end());
  ex.ids.push_back(tok.eos_id());
  if (static_cast<int>(ex.ids.size()) > options.max_len) {
    ex.ids.resize(options.max_len);  // right truncation: the tail of the response (and EOS) goes
    ex.truncated = true;
  }
  ex.length = static_cast<int>(ex.ids.size());
  int32_t pad = options.pad_id.value_or(tok.pad_id());
  int total = options.pad_to_max ? options.max_len : ex.length;
  ex.ids.resize(total, pad);
  ex.targets.assign(total, pad);
  ex.loss_mask.assign(total, 0.0f);
  ex.positions.assign(total, 0);
  for (int t = 0; t < ex.length; ++t) {
    ex.positions[t] = t;
    if (t + 1 < ex.length) {
      ex.targets[t] = ex.ids[t + 1];
      ex.loss_mask[t] = t + 1 >= ex.prompt_length ? 1.0f : 0.0f;
    }
  }
  return ex;
}

}  // namespace kiln::data
