// Byte-level BPE: the byte <-> printable map, validation, encoding with merge ranks, decoding and
// the JSON form. Training is in bpe_train.cc, GPT-2's files in gpt2_tokenizer.cc.
#include "data/bpe.h"

#include <algorithm>
#include <array>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "data/pretokenize.h"

namespace kiln::data {
namespace {

// Debian's Abseil is built with its own string_view type, so std::string_view needs a bridge.
absl::string_view AsAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

uint64_t PairKey(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

// GPT-2's bytes_to_unicode: bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF map to themselves, the other
// 68 bytes to U+0100, U+0101, ... in byte order.
struct ByteMap {
  std::array<uint32_t, 256> to_cp{};
  std::array<int16_t, 512> to_byte{};  // code point -> byte, -1 if none
  ByteMap() {
    to_byte.fill(-1);
    uint32_t next = 256;
    for (int b = 0; b < 256; ++b) {
      bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      to_cp[b] = printable ? static_cast<uint32_t>(b) : next++;
      to_byte[to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};
const ByteMap& Map() {
  static const ByteMap m;
  return m;
}

std::string Quoted(std::string_view bytes) {
  return absl::StrCat("'", BytesToPrintable(bytes), "'");
}

absl::Status Invalid(const std::string& where, const std::string& msg) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", msg));
}

// Reads an array of strings; errors say "<where>: field '<field>'[i]: ...".
absl::StatusOr<std::vector<std::string>> StringArray(const Json& j, const std::string& field,
                                                     const std::string& where) {
  auto arr = GetField<Json>(j, field, where);
  if (!arr.ok()) return arr.status();
  if (!arr->is_array()) {
    return Invalid(where, absl::StrCat("field '", field, "': expected an array of strings, got ",
                                       arr->type_name()));
  }
  std::vector<std::string> out;
  out.reserve(arr->size());
  for (size_t i = 0; i < arr->size(); ++i) {
    const Json& v = (*arr)[i];
    if (!v.is_string()) {
      return Invalid(where, absl::StrCat("field '", field, "'[", i, "]: expected a string, got ",
                                         v.dump().substr(0, 40)));
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

}  // namespace

std::string BytesToPrintable(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    uint32_t cp = Map().to_cp[b];
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else {  // every mapped code point is below U+0800: two UTF-8 bytes
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  return out;
}

std::optional<std::string> PrintableToBytes(std::string_view printable) {
  std::string out;
  out.reserve(printable.size());
  for (size_t i = 0; i < printable.size(); ++i) {
    auto c = static_cast<unsigned char>(printable[i]);
    uint32_t cp = c;
    if (c >= 0x80) {
      if ((c & 0xE0) != 0xC0 || i + 1 >= printable.size()) return std::nullopt;
      auto c2 = static_cast<unsigned char>(printable[++i]);
      if ((c2 & 0xC0) != 0x80) return std::nullopt;
      cp = ((c & 0x1Fu) << 6) | (c2 & 0x3Fu);
    }
    if (cp >= Map().to_byte.size() || Map().to_byte[cp] < 0) return std::nullopt;
    out += static_cast<char>(Map().to_byte[cp]);
  }
  return out;
}

absl::StatusOr<std::vector<BpeTokenizer::Merge>> ParseMerges(
    const std::vector<std::string_view>& lines, const std::vector<std::string>& vocab,
    const std::function<std::string(size_t)>& where) {
  absl::flat_hash_map<std::string_view, int32_t> id_of;
  id_of.reserve(vocab.size());
  for (size_t i = 0; i < vocab.size(); ++i) id_of.emplace(vocab[i], static_cast<int32_t>(i));
  std::vector<BpeTokenizer::Merge> merges;
  merges.reserve(lines.size());
  absl::flat_hash_set<uint64_t> seen;
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    size_t space = line.find(' ');
    if (space == std::string_view::npos || space == 0 || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string_view::npos) {
      return Invalid(where(i), absl::StrCat("expected two tokens separated by one space, got \"",
                                            AsAbsl(line.substr(0, 60)), "\""));
    }
    int32_t ids[2];
    std::string joined;
    for (int k = 0; k < 2; ++k) {
      std::string_view part = k == 0 ? line.substr(0, space) : line.substr(space + 1);
      auto bytes = PrintableToBytes(part);
      auto it = bytes ? id_of.find(*bytes) : id_of.end();
      if (it == id_of.end()) {
        return Invalid(where(i),
                       absl::StrCat("unknown token '", AsAbsl(part), "' (not in the vocabulary)"));
      }
      ids[k] = it->second;
      joined += *bytes;
    }
    if (!id_of.contains(joined)) {
      return Invalid(
          where(i), absl::StrCat("the merged token ", Quoted(joined), " is not in the vocabulary"));
    }
    if (!seen.insert(PairKey(ids[0], ids[1])).second) {
      return Invalid(where(i), absl::StrCat("duplicate merge \"", AsAbsl(line), "\""));
    }
    merges.push_back({ids[0], ids[1]});
  }
  return merges;
}

absl::StatusOr<std::unique_ptr<BpeTokenizer>> BpeTokenizer::Create(
    std::string type, std::vector<std::string> vocab, std::vector<Merge> merges,
    std::vector<std::string> specials, const std::string& where) {
  std::unique_ptr<BpeTokenizer> t(new BpeTokenizer());
  if (vocab.size() + specials.size() > static_cast<size_t>(INT32_MAX)) {
    return Invalid(where, "field 'vocab': too many tokens");
  }
  absl::flat_hash_map<std::string_view, int32_t> id_of;
  id_of.reserve(vocab.size());
  for (size_t i = 0; i < vocab.size(); ++i) {
    auto [it, fresh] = id_of.emplace(vocab[i], static_cast<int32_t>(i));
    if (vocab[i].empty() || !fresh) {
      return Invalid(where, absl::StrCat("field 'vocab'[", i, "]: ",
                                         vocab[i].empty() ? "empty token" : "duplicate of token ",
                                         vocab[i].empty() ? "" : absl::StrCat(it->second)));
    }
  }
  for (int b = 0; b < 256; ++b) {
    auto it = id_of.find(std::string(1, static_cast<char>(b)));
    if (it == id_of.end()) {
      return Invalid(where, absl::StrCat("field 'vocab': no token for byte ", b,
                                         " (a byte-level BPE needs all 256)"));
    }
    t->byte_id_[b] = it->second;
  }
  const auto n = static_cast<int32_t>(vocab.size());
  for (size_t r = 0; r < merges.size(); ++r) {
    const Merge& m = merges[r];
    if (m.left < 0 || m.left >= n || m.right < 0 || m.right >= n) {
      return Invalid(where, absl::StrCat("field 'merges'[", r, "]: token id outside [0, ", n, ")"));
    }
    auto it = id_of.find(vocab[m.left] + vocab[m.right]);
    if (it == id_of.end()) {
      return Invalid(
          where, absl::StrCat("field 'merges'[", r, "]: the merged token ",
                              Quoted(vocab[m.left] + vocab[m.right]), " is not in the vocabulary"));
    }
    MergeInfo info{static_cast<int32_t>(r), it->second};
    if (!t->merge_of_pair_.emplace(PairKey(m.left, m.right), info).second) {
      return Invalid(where, absl::StrCat("field 'merges'[", r, "]: duplicate merge"));
    }
  }
  absl::flat_hash_set<std::string> seen;
  for (size_t i = 0; i < specials.size(); ++i) {
    if (specials[i].empty() || !seen.insert(specials[i]).second) {
      return Invalid(where, absl::StrCat("field 'specials'[", i, "]: empty or duplicate name \"",
                                         specials[i], "\""));
    }
  }
  t->type_ = std::move(type);
  t->vocab_ = std::move(vocab);
  t->merges_ = std::move(merges);
  t->specials_ = std::move(specials);
  return t;
}

absl::StatusOr<std::unique_ptr<BpeTokenizer>> BpeTokenizer::FromJson(const Json& j,
                                                                     const std::string& where) {
  auto type = GetField<std::string>(j, "type", where);
  if (!type.ok()) return type.status();
  if (*type != "bpe" && *type != "gpt2") {
    return Invalid(where,
                   absl::StrCat("field 'type': expected \"bpe\" or \"gpt2\", got \"", *type, "\""));
  }
  auto printable = StringArray(j, "vocab", where);
  if (!printable.ok()) return printable.status();
  std::vector<std::string> vocab;
  vocab.reserve(printable->size());
  for (size_t i = 0; i < printable->size(); ++i) {
    auto bytes = PrintableToBytes((*printable)[i]);
    if (!bytes) {
      return Invalid(where, absl::StrCat("field 'vocab'[", i, "]: \"", (*printable)[i],
                                         "\" is not in GPT-2's printable byte form"));
    }
    vocab.push_back(std::move(*bytes));
  }
  auto merge_lines = StringArray(j, "merges", where);
  if (!merge_lines.ok()) return merge_lines.status();
  std::vector<std::string_view> views(merge_lines->begin(), merge_lines->end());
  auto merges = ParseMerges(
      views, vocab, [&](size_t i) { return absl::StrCat(where, ": field 'merges'[", i, "]"); });
  if (!merges.ok()) return merges.status();
  auto specials = StringArray(j, "specials", where);
  if (!specials.ok()) return specials.status();
  return Create(*type, std::move(vocab), std::move(*merges), std::move(*specials), where);
}

Json BpeTokenizer::ToJson() const {
  Json vocab = Json::array();
  for (const auto& t : vocab_) vocab.push_back(BytesToPrintable(t));
  Json merges = Json::array();
  for (const Merge& m : merges_) {
    merges.push_back(
        absl::StrCat(BytesToPrintable(vocab_[m.left]), " ", BytesToPrintable(vocab_[m.right])));
  }
  return Json{{"type", type_}, {"vocab", vocab}, {"merges", merges}, {"specials", specials_}};
}

int32_t BpeTokenizer::vocab_size() const {
  return static_cast<int32_t>(vocab_.size() + specials_.size());
}

std::optional<int32_t> BpeTokenizer::SpecialId(const std::string& name) const {
  for (size_t i = 0; i < specials_.size(); ++i) {
    if (specials_[i] == name) return static_cast<int32_t>(vocab_.size() + i);
  }
  return std::nullopt;
}

// GPT-2's bpe(): repeatedly take the pair with the lowest merge rank and merge all its
// occurrences left to right, then look again. Done with a linked list and a heap of candidate
// pairs keyed (rank, position) instead of rescanning the word, so a long word costs n log n, not
// n^2. Pairs a pass creates are queued only after the pass, as GPT-2 looks for the next pair only
// after merging every occurrence of the current one.
std::vector<int32_t> BpeTokenizer::EncodeWord(std::string_view word) const {
  const auto n = static_cast<int32_t>(word.size());
  std::vector<int32_t> id(n), next(n), prev(n);
  for (int32_t i = 0; i < n; ++i) {
    id[i] = byte_id_[static_cast<unsigned char>(word[i])];
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    int32_t rank, pos, left, right;
  };
  auto later = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  };
  std::vector<Candidate> heap;
  auto push = [&](int32_t p) {
    if (p < 0 || next[p] < 0) return;
    auto it = merge_of_pair_.find(PairKey(id[p], id[next[p]]));
    if (it == merge_of_pair_.end()) return;
    heap.push_back({it->second.rank, p, id[p], id[next[p]]});
    std::push_heap(heap.begin(), heap.end(), later);
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  std::vector<int32_t> merged;
  while (!heap.empty()) {
    const int32_t rank = heap.front().rank;
    merged.clear();
    while (!heap.empty() && heap.front().rank == rank) {
      std::pop_heap(heap.begin(), heap.end(), later);
      Candidate c = heap.back();
      heap.pop_back();
      const int32_t p = c.pos;
      // Stale: the left node was merged away, or either side changed since this was queued.
      if (id[p] < 0 || next[p] < 0 || id[p] != c.left || id[next[p]] != c.right) continue;
      const int32_t q = next[p];
      id[p] = merge_of_pair_.find(PairKey(c.left, c.right))->second.result;
      next[p] = next[q];
      if (next[q] >= 0) prev[next[q]] = p;
      id[q] = -1;
      merged.push_back(p);
    }
    for (int32_t p : merged) {
      push(prev[p]);
      push(p);
    }
  }
  std::vector<int32_t> out;
  for (int32_t p = n > 0 ? 0 : -1; p >= 0; p = next[p]) out.push_back(id[p]);
  return out;
}

void BpeTokenizer::EncodeWordCached(std::string_view word, std::vector<int32_t>* out) const {
  // Long words (long whitespace or symbol runs) are rare and would bloat the cache.
  constexpr size_t kMaxCachedWordBytes = 64;
  constexpr size_t kMaxCacheEntries = 1 << 20;
  const bool cacheable = word.size() <= kMaxCachedWordBytes;
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    auto it = cache_.find(AsAbsl(word));
    if (it != cache_.end()) {
      out->insert(out->end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<int32_t> ids = EncodeWord(word);
  out->insert(out->end(), ids.begin(), ids.end());
  if (cacheable) {
    std::lock_guard<std::mutex> lock(cache_mu_);
    if (cache_.size() < kMaxCacheEntries) cache_.emplace(std::string(word), std::move(ids));
  }
}

std::vector<int32_t> BpeTokenizer::Encode(const std::string& text) const {
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3);
  for (std::string_view word : PretokenizeGpt2(text)) EncodeWordCached(word, &ids);
  return ids;
}

std::string BpeTokenizer::Decode(const std::vector<int32_t>& ids) const {
  std::string out;
  const auto n = static_cast<int32_t>(vocab_.size());
  for (int32_t id : ids) {
    KILN_CHECK(id >= 0 && id < vocab_size())
        << "BpeTokenizer::Decode: id " << id << " outside [0, " << vocab_size() << ")";
    out += id < n ? vocab_[id] : specials_[id - n];
  }
  return out;
}

}  // namespace kiln::data
