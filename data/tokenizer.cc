// Byte-level tokenizer and the JSON form every tokenizer is saved in:
// {"type": "byte", "specials": ["<|bos|>", ...]}; "bpe" / "gpt2" files are read by data/bpe.cc.
#include "data/tokenizer.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "data/bpe.h"

namespace kiln::data {

int32_t Tokenizer::Special(const std::string& name) const {
  auto id = SpecialId(name);
  KILN_CHECK(id.has_value()) << type() << " tokenizer has no special token " << name;
  return *id;
}

absl::Status Tokenizer::Save(const std::string& path) const {
  return WriteJsonFile(path, ToJson());
}

ByteTokenizer::ByteTokenizer() : ByteTokenizer({kBos, kEos, kPad, kUser, kAssistant, kEndOfTurn}) {}

ByteTokenizer::ByteTokenizer(std::vector<std::string> specials) : specials_(std::move(specials)) {
  std::set<std::string> seen(specials_.begin(), specials_.end());
  KILN_CHECK(seen.size() == specials_.size()) << "ByteTokenizer: duplicate special token names";
}

std::vector<int32_t> ByteTokenizer::Encode(const std::string& text) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size());
  for (unsigned char c : text) ids.push_back(c);
  return ids;
}

std::string ByteTokenizer::Decode(const std::vector<int32_t>& ids) const {
  std::string out;
  for (int32_t id : ids) {
    KILN_CHECK(id >= 0 && id < vocab_size())
        << "ByteTokenizer::Decode: id " << id << " outside [0, " << vocab_size() << ")";
    if (id < 256) {
      out += static_cast<char>(id);
    } else {
      out += specials_[id - 256];
    }
  }
  return out;
}

std::optional<int32_t> ByteTokenizer::SpecialId(const std::string& name) const {
  for (size_t i = 0; i < specials_.size(); ++i) {
    if (specials_[i] == name) return 256 + static_cast<int32_t>(i);
  }
  return std::nullopt;
}

Json ByteTokenizer::ToJson() const { return Json{{"type", "byte"}, {"specials", specials_}}; }

absl::StatusOr<std::unique_ptr<Tokenizer>> TokenizerFromJson(const Json& j,
                                                             const std::string& where) {
  auto type = GetField<std::string>(j, "type", where);
  if (!type.ok()) return type.status();
  if (*type == "byte") {
    auto specials = GetField<Json>(j, "specials", where);
    if (!specials.ok()) return specials.status();
    if (!specials->is_array()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": field 'specials': expected an array of strings"));
    }
    std::vector<std::string> names;
    std::set<std::string> seen;
    for (const auto& s : *specials) {
      if (!s.is_string() || !seen.insert(s.get<std::string>()).second) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": field 'specials': expected distinct strings, got ", s.dump()));
      }
      names.push_back(s.get<std::string>());
    }
    return std::unique_ptr<Tokenizer>(new ByteTokenizer(std::move(names)));
  }
  if (*type == "bpe" || *type == "gpt2") {
    auto bpe = BpeTokenizer::FromJson(j, where);
    if (!bpe.ok()) return bpe.status();
    return std::unique_ptr<Tokenizer>(std::move(*bpe));
  }
  return absl::InvalidArgumentError(absl::StrCat(where, ": field 'type': unknown tokenizer type \"",
                                                 *type, "\" (known: byte, bpe, gpt2)"));
}

absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& path) {
  auto j = ReadJsonFile(path);
  if (!j.ok()) return j.status();
  return TokenizerFromJson(*j, path);
}

absl::StatusOr<std::unique_ptr<Tokenizer>> ResolveTokenizer(const std::string& spec) {
  if (spec == "byte") return std::unique_ptr<Tokenizer>(new ByteTokenizer());
  if (spec == "gpt2") {
    auto gpt2 = LoadGpt2Tokenizer(DefaultGpt2Dir());
    if (!gpt2.ok()) return gpt2.status();
    return std::unique_ptr<Tokenizer>(std::move(*gpt2));
  }
  return LoadTokenizer(spec);
}

}  // namespace kiln::data
