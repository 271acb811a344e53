// libFuzzer target for the tokenizer loader: the input is a tokenizer file's text, parsed as JSON
// and handed to data::TokenizerFromJson (what LoadTokenizer does after reading the file), so it
// covers every tokenizer type the loader knows ("byte", and "bpe" / "gpt2" once they are there).
// Bad input must come back as a Status. A tokenizer that loads must also survive what a caller
// does next: ToJson and load again (same JSON), and encode the input bytes themselves and decode
// them back to the same bytes (every kiln tokenizer is byte level, so any text round trips).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/json.h"
#include "data/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  auto json = kiln::ParseJson(text, "fuzz");
  if (!json.ok()) return 0;
  auto tok = kiln::data::TokenizerFromJson(*json, "fuzz");
  if (!tok.ok()) return 0;
  const kiln::Json saved = (*tok)->ToJson();
  auto reloaded = kiln::data::TokenizerFromJson(saved, "fuzz-roundtrip");
  if (!reloaded.ok() || (*reloaded)->ToJson() != saved) std::abort();
  std::vector<int32_t> ids = (*tok)->Encode(text);
  for (int32_t id : ids) {
    if (id < 0 || id >= (*tok)->vocab_size()) std::abort();
  }
  if ((*tok)->Decode(ids) != text) std::abort();
  return 0;
}
