// GPT-2's pre-tokenization: text is cut into words before BPE runs, so merges never cross a word
// boundary. The pattern is GPT-2's
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// matched with PCRE2 in UTF + UCP mode (see pretokenize.cc for the one detail about \s).
#pragma once

#include <string_view>
#include <vector>

namespace kiln::data {

// The pieces of `text` in order; their concatenation is `text` exactly. Bytes that are not valid
// UTF-8 (which GPT-2, working on Python str, never sees) become pieces of their own, so any byte
// string round-trips. The views point into `text`. Thread-safe.
std::vector<std::string_view> PretokenizeGpt2(std::string_view text);

}  // namespace kiln::data
