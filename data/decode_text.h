// Decoding model output for people and JSON files: ids past the tokenizer's vocabulary (a model
// vocabulary padded beyond it) shown as <|id:N|> instead of failing, and invalid UTF-8 bytes (a
// random model's output often has them) replaced by U+FFFD. Used by `kiln generate` and `kiln eval`.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/tokenizer.h"

namespace kiln::data {

// The tokenizer's text of `ids`; an id >= tok.vocab_size() becomes "<|id:N|>".
std::string DecodeLenient(const Tokenizer& tok, const std::vector<int32_t>& ids);
// `s` with every byte that does not start a valid UTF-8 sequence replaced by U+FFFD (overlong
// forms, surrogates and code points past U+10FFFF are invalid).
std::string ValidUtf8(const std::string& s);

}  // namespace kiln::data
