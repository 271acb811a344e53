// Byte-level BPE training on a corpus, GPT-2 style: the corpus is pre-tokenized into words (merges
// never cross a word), the vocabulary starts as the 256 bytes (id = byte value), and each step
// merges the most frequent adjacent pair, counted over all words weighted by how often each word
// occurs.
//
// Determinism: ties are broken by a fixed rule, the pair with the smallest left id, then the
// smallest right id, so the same corpus and options give the same merges on any machine and in any
// hash-map iteration order (every count is an exact integer, and the heap key below orders pairs
// totally). A merge whose bytes already are a token (e.g. "a"+"bc" after "ab"+"c") reuses that id,
// as Hugging Face's trainer does; such a merge does not grow the vocabulary.
#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "data/bpe.h"
#include "data/pretokenize.h"

namespace kiln::data {
namespace {

uint64_t Key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}
int32_t Left(uint64_t key) { return static_cast<int32_t>(key >> 32); }
int32_t Right(uint64_t key) { return static_cast<int32_t>(key & 0xffffffffu); }

// A candidate pair with the count it had when queued; outdated entries are skipped when popped.
struct Entry {
  int64_t count;
  uint64_t key;
};
// std heap "less": the top is the highest count, then the smallest (left, right).
bool LowerPriority(const Entry& a, const Entry& b) {
  if (a.count != b.count) return a.count < b.count;
  return a.key > b.key;  // key orders by left id, then right id
}

struct Word {
  std::vector<int32_t> symbols;
  int64_t freq = 0;
  int64_t last_merge = -1;  // the merge step that last rewrote it (skips duplicate visits)
};

}  // namespace

absl::StatusOr<std::unique_ptr<BpeTokenizer>> TrainBpe(std::string_view corpus,
                                                       const BpeTrainOptions& options) {
  const int64_t base = 256 + static_cast<int64_t>(options.specials.size());
  if (options.vocab_size < base) {
    return absl::InvalidArgumentError(absl::StrCat("vocab size ", options.vocab_size,
                                                   " is below 256 byte tokens + ",
                                                   options.specials.size(), " specials = ", base));
  }
  if (options.min_pair_count < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("min pair count must be >= 1, got ", options.min_pair_count));
  }

  // Distinct words in byte order, so word indices do not depend on hashing.
  absl::flat_hash_map<std::string_view, int64_t> counts;
  for (std::string_view w : PretokenizeGpt2(corpus)) ++counts[w];
  std::vector<std::pair<std::string_view, int64_t>> sorted(counts.begin(), counts.end());
  std::sort(sorted.begin(), sorted.end());
  std::vector<Word> words(sorted.size());
  for (size_t i = 0; i < sorted.size(); ++i) {
    for (unsigned char c : sorted[i].first) words[i].symbols.push_back(c);
    words[i].freq = sorted[i].second;
  }

  std::vector<std::string> vocab(256);
  absl::flat_hash_map<std::string, int32_t> id_of;
  for (int b = 0; b < 256; ++b) {
    vocab[b] = std::string(1, static_cast<char>(b));
    id_of[vocab[b]] = b;
  }

  absl::flat_hash_map<uint64_t, int64_t> pair_count;
  absl::flat_hash_map<uint64_t, std::vector<int32_t>> words_with;  // may hold stale entries
  auto add_pairs = [&](int32_t w, int64_t sign, absl::flat_hash_set<uint64_t>* changed) {
    const Word& word = words[w];
    for (size_t i = 0; i + 1 < word.symbols.size(); ++i) {
      uint64_t k = Key(word.symbols[i], word.symbols[i + 1]);
      pair_count[k] += sign * word.freq;
      if (sign > 0) {
        auto& list = words_with[k];
        if (list.empty() || list.back() != w) list.push_back(w);
      }
      if (changed != nullptr) changed->insert(k);
    }
  };
  for (size_t w = 0; w < words.size(); ++w) add_pairs(static_cast<int32_t>(w), +1, nullptr);

  std::vector<Entry> heap;
  for (const auto& [k, c] : pair_count) heap.push_back({c, k});
  std::make_heap(heap.begin(), heap.end(), LowerPriority);

  std::vector<BpeTokenizer::Merge> merges;
  absl::flat_hash_set<uint64_t> merged_pairs;
  const int64_t target = options.vocab_size - static_cast<int64_t>(options.specials.size());
  while (static_cast<int64_t>(vocab.size()) < target && !heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), LowerPriority);
    const Entry top = heap.back();
    heap.pop_back();
    auto it = pair_count.find(top.key);
    if (it == pair_count.end() || it->second != top.count) continue;  // outdated entry
    if (top.count < options.min_pair_count) break;  // the best pair is too rare: done
    // A pair merged before can only reappear through a token whose bytes an earlier merge also
    // made; Encode applies the earlier merge to it anyway, so it is not merged twice.
    if (!merged_pairs.insert(top.key).second) continue;
    const int32_t left = Left(top.key), right = Right(top.key);
    std::string bytes = vocab[left] + vocab[right];
    auto [token, fresh] = id_of.emplace(bytes, static_cast<int32_t>(vocab.size()));
    if (fresh) vocab.push_back(std::move(bytes));
    const int32_t result = token->second;
    const auto step = static_cast<int64_t>(merges.size());
    merges.push_back({left, right});

    absl::flat_hash_set<uint64_t> changed;
    std::vector<int32_t> candidates = std::move(words_with[top.key]);
    words_with.erase(top.key);
    for (int32_t w : candidates) {
      Word& word = words[w];
      if (word.last_merge == step) continue;
      std::vector<int32_t>& s = word.symbols;
      bool has = false;
      for (size_t i = 0; i + 1 < s.size() && !has; ++i) has = s[i] == left && s[i + 1] == right;
      if (!has) continue;  // stale: an earlier merge already consumed this pair here
      word.last_merge = step;
      add_pairs(w, -1, &changed);
      std::vector<int32_t> out;
      out.reserve(s.size());
      for (size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == left && s[i + 1] == right) {
          out.push_back(result);
          ++i;
        } else {
          out.push_back(s[i]);
        }
      }
      s = std::move(out);
      add_pairs(w, +1, &changed);
    }
    for (uint64_t k : changed) {
      auto c = pair_count.find(k);
      if (c->second == 0) {
        pair_count.erase(c);
      } else {
        heap.push_back({c->second, k});
        std::push_heap(heap.begin(), heap.end(), LowerPriority);
      }
    }
  }
  return BpeTokenizer::Create("bpe", std::move(vocab), std::move(merges), options.specials,
                              "TrainBpe");
}

}  // namespace kiln::data
