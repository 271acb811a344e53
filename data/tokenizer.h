// The one tokenizer interface every later part uses (training, sampling, evaluation), and the
// byte-level tokenizer: ids 0..255 are the bytes, special tokens come after 255. Plain text never
// turns into special tokens (Encode treats "<|eos|>" in text as bytes), so data cannot inject turn
// markers; the chat template inserts specials by id. Byte-level BPE and GPT-2's tokenizer are in
// data/bpe.h (docs/tokenizers.md).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "base/json.h"

namespace kiln::data {

// Names of the special tokens the chat template needs.
inline constexpr const char* kBos = "<|bos|>";
inline constexpr const char* kEos = "<|eos|>";
inline constexpr const char* kPad = "<|pad|>";
inline constexpr const char* kUser = "<|user|>";
inline constexpr const char* kAssistant = "<|assistant|>";
inline constexpr const char* kEndOfTurn = "<|end|>";

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual std::string type() const = 0;  // "byte", "bpe", "gpt2"
  virtual std::vector<int32_t> Encode(const std::string& text) const = 0;
  // Specials are rendered as their names; ids out of range throw kiln::Error.
  virtual std::string Decode(const std::vector<int32_t>& ids) const = 0;
  virtual int32_t vocab_size() const = 0;
  virtual std::optional<int32_t> SpecialId(const std::string& name) const = 0;
  virtual std::vector<std::string> SpecialNames() const = 0;
  virtual Json ToJson() const = 0;

  // The special id for `name`; throws kiln::Error if this tokenizer lacks it.
  int32_t Special(const std::string& name) const;
  int32_t bos_id() const { return Special(kBos); }
  int32_t eos_id() const { return Special(kEos); }
  int32_t pad_id() const { return Special(kPad); }
  absl::Status Save(const std::string& path) const;
};

class ByteTokenizer : public Tokenizer {
 public:
  // Specials in id order 256, 257, ...; the default set is the chat template's.
  ByteTokenizer();
  explicit ByteTokenizer(std::vector<std::string> specials);

  std::string type() const override { return "byte"; }
  std::vector<int32_t> Encode(const std::string& text) const override;
  std::string Decode(const std::vector<int32_t>& ids) const override;
  int32_t vocab_size() const override { return 256 + static_cast<int32_t>(specials_.size()); }
  std::optional<int32_t> SpecialId(const std::string& name) const override;
  std::vector<std::string> SpecialNames() const override { return specials_; }
  Json ToJson() const override;

 private:
  std::vector<std::string> specials_;
};

// Reads a tokenizer file written by Save; errors name the file and the field.
absl::StatusOr<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::string& path);
absl::StatusOr<std::unique_ptr<Tokenizer>> TokenizerFromJson(const Json& j,
                                                             const std::string& where);
// What a --tokenizer flag names: "byte" (ByteTokenizer()), "gpt2" (GPT-2's files from
// DefaultGpt2Dir()), or the path of a tokenizer JSON file.
absl::StatusOr<std::unique_ptr<Tokenizer>> ResolveTokenizer(const std::string& spec);

}  // namespace kiln::data
