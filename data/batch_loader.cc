// Batch loader: windows, per-epoch order, document positions, cursor save / restore, split.
#include "data/batch_loader.h"

#include <numeric>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "base/rng.h"

namespace kiln::data {
namespace {

// The shuffle's Philox counter is (draw, kShuffleDomain << 32 | epoch): the high word keeps these
// draws apart from streams that use the same seed with counter_hi = 0 (initializers, dropout), so
// reusing one seed for the model and the data order does not correlate them.
constexpr uint64_t kShuffleDomain = 0x53485546;  // "SHUF"

// FNV-1a over the token values: lets RestoreCursor tell "same count, other tokens" apart.
uint64_t HashTokens(const int32_t* p, int64_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (int64_t i = 0; i < n; ++i) {
    h ^= static_cast<uint32_t>(p[i]);
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string HashString(uint64_t v) {
  static const char* kHex = "0123456789abcdef";
  std::string s;
  for (int i = 60; i >= 0; i -= 4) s += kHex[(v >> i) & 15];
  return s;
}

}  // namespace

absl::StatusOr<BatchLoader> BatchLoader::Create(std::shared_ptr<const std::vector<int32_t>> tokens,
                                                const BatchLoaderOptions& options,
                                                const std::string& name, int64_t begin,
                                                int64_t end) {
  KILN_CHECK(tokens != nullptr) << "BatchLoader: tokens is null";
  KILN_CHECK(options.batch_size >= 1 && options.seq_len >= 1)
      << "BatchLoader: batch_size and seq_len must be >= 1, got " << options.batch_size << " and "
      << options.seq_len;
  // Positions are int32; a longer row could not be described.
  KILN_CHECK(options.seq_len < (int64_t{1} << 31)) << "BatchLoader: seq_len too large";
  const int64_t size = static_cast<int64_t>(tokens->size());
  if (end < 0) end = size;
  KILN_CHECK(begin >= 0 && begin <= end && end <= size)
      << "BatchLoader: token range [" << begin << ", " << end << ") outside [0, " << size << ")";
  BatchLoader l;
  l.tokens_ = std::move(tokens);
  l.options_ = options;
  l.name_ = name;
  l.begin_ = begin;
  l.end_ = end;
  const int64_t n = end - begin;
  l.num_windows_ = n >= 1 ? (n - 1) / options.seq_len : 0;
  if (l.num_windows_ < options.batch_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": ", n, " tokens make ", l.num_windows_, " windows of ",
                     options.seq_len, "+1 tokens, fewer than one batch of ", options.batch_size));
  }
  l.token_hash_ = HashTokens(l.tokens_->data() + begin, n);
  return l;
}

std::vector<int64_t> BatchLoader::EpochOrder(int64_t epoch) const { return Order(epoch); }

const std::vector<int64_t>& BatchLoader::Order(int64_t epoch) const {
  KILN_CHECK(epoch >= 0 && epoch < (int64_t{1} << 32))
      << "BatchLoader: epoch " << epoch << " outside [0, 2^32)";
  if (cached_epoch_ == epoch) return cached_order_;
  cached_order_.resize(num_windows_);
  std::iota(cached_order_.begin(), cached_order_.end(), int64_t{0});
  if (options_.shuffle) {
    // Fisher-Yates from the last slot down; draw k picks slot i's partner in [0, i].
    const uint64_t hi = (kShuffleDomain << 32) | static_cast<uint64_t>(epoch);
    uint64_t draw = 0;
    for (int64_t i = num_windows_ - 1; i > 0; --i) {
      Philox4x32 b = Philox(options_.seed, draw++, hi);
      uint64_t r = (static_cast<uint64_t>(b.v[0]) << 32) | b.v[1];
      auto j = static_cast<int64_t>(
          (static_cast<unsigned __int128>(r) * static_cast<uint64_t>(i + 1)) >> 64);
      std::swap(cached_order_[i], cached_order_[j]);
    }
  }
  cached_epoch_ = epoch;
  return cached_order_;
}

Batch BatchLoader::BatchAt(int64_t epoch, int64_t index) const {
  KILN_CHECK(index >= 0 && index < batches_per_epoch())
      << "BatchLoader::BatchAt: index " << index << " outside [0, " << batches_per_epoch() << ")";
  const int64_t B = options_.batch_size, T = options_.seq_len;
  const std::vector<int64_t>& order = Order(epoch);
  Batch b;
  b.batch_size = B;
  b.seq_len = T;
  b.epoch = epoch;
  b.index = index;
  b.inputs.resize(B * T);
  b.targets.resize(B * T);
  b.positions.resize(B * T);
  b.doc_ids.resize(B * T);
  b.windows.resize(B);
  const int32_t* tok = tokens_->data() + begin_;
  for (int64_t r = 0; r < B; ++r) {
    const int64_t w = order[index * B + r];
    b.windows[r] = w;
    const int32_t* src = tok + w * T;
    int32_t* in = b.inputs.data() + r * T;
    int32_t* tg = b.targets.data() + r * T;
    int32_t* pos = b.positions.data() + r * T;
    int32_t* doc = b.doc_ids.data() + r * T;
    int32_t p = 0, d = 0;
    for (int64_t t = 0; t < T; ++t) {
      in[t] = src[t];
      tg[t] = src[t + 1];
      if (t > 0 && options_.eos_id && in[t - 1] == *options_.eos_id) {
        p = 0;
        ++d;
      }
      pos[t] = p++;
      doc[t] = d;
    }
  }
  return b;
}

Batch BatchLoader::Next() {
  Batch b = BatchAt(epoch_, index_);
  if (++index_ == batches_per_epoch()) {
    index_ = 0;
    ++epoch_;
  }
  return b;
}

Json BatchLoader::CursorJson() const {
  return Json{{"epoch", epoch_},
              {"index", index_},
              {"name", name_},
              {"tokens", end_ - begin_},
              {"tokens_fnv1a", HashString(token_hash_)},
              {"batch_size", options_.batch_size},
              {"seq_len", options_.seq_len},
              {"shuffle", options_.shuffle},
              {"seed", options_.seed}};
}

absl::Status BatchLoader::RestoreCursor(const Json& c, const std::string& where) {
  auto bad = [&](const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", what));
  };
  if (!c.is_object()) return bad("expected a JSON object");
  // Integer fields: present, integers, and equal to this loader's value where one is given.
  auto int_field = [&](const char* field, int64_t* out) -> absl::Status {
    auto it = c.find(field);
    if (it == c.end()) return bad(absl::StrCat("missing field '", field, "'"));
    if (!it->is_number_integer() ||
        (it->is_number_unsigned() && it->get<uint64_t>() > uint64_t{INT64_MAX})) {
      return bad(absl::StrCat("field '", field, "': expected an integer, got ", it->dump()));
    }
    *out = it->get<int64_t>();
    return absl::OkStatus();
  };
  auto must_equal = [&](const char* field, int64_t mine) -> absl::Status {
    int64_t v = 0;
    if (auto s = int_field(field, &v); !s.ok()) return s;
    if (v != mine) {
      return bad(absl::StrCat("cursor is for ", field, " ", v, ", this loader has ", mine));
    }
    return absl::OkStatus();
  };
  auto name = c.find("name");
  if (name == c.end() || !name->is_string()) return bad("missing string field 'name'");
  if (name->get<std::string>() != name_) {
    return bad(absl::StrCat("cursor is for the \"", name->get<std::string>(),
                            "\" loader, this is \"", name_, "\""));
  }
  if (auto s = must_equal("tokens", end_ - begin_); !s.ok()) return s;
  if (auto s = must_equal("batch_size", options_.batch_size); !s.ok()) return s;
  if (auto s = must_equal("seq_len", options_.seq_len); !s.ok()) return s;
  auto hash = c.find("tokens_fnv1a");
  if (hash == c.end() || !hash->is_string()) return bad("missing string field 'tokens_fnv1a'");
  if (hash->get<std::string>() != HashString(token_hash_)) {
    return bad(absl::StrCat("cursor is for other tokens (checksum ", hash->get<std::string>(),
                            ", this loader's tokens have ", HashString(token_hash_), ")"));
  }
  auto shuffle = c.find("shuffle");
  if (shuffle == c.end() || !shuffle->is_boolean()) return bad("missing boolean field 'shuffle'");
  if (shuffle->get<bool>() != options_.shuffle) {
    return bad(absl::StrCat("cursor is for a ", shuffle->get<bool>() ? "shuffled" : "sequential",
                            " loader, this one is ", options_.shuffle ? "shuffled" : "sequential"));
  }
  if (options_.shuffle) {
    auto seed = c.find("seed");
    if (seed == c.end() || !seed->is_number_integer() ||
        (seed->is_number_integer() && !seed->is_number_unsigned() && seed->get<int64_t>() < 0)) {
      return bad("missing or negative field 'seed'");
    }
    if (seed->get<uint64_t>() != options_.seed) {
      return bad(absl::StrCat("cursor is for seed ", seed->get<uint64_t>(),
                              ", this loader has seed ", options_.seed));
    }
  }
  int64_t epoch = 0, index = 0;
  if (auto s = int_field("epoch", &epoch); !s.ok()) return s;
  if (auto s = int_field("index", &index); !s.ok()) return s;
  if (epoch < 0 || epoch >= (int64_t{1} << 32)) {
    return bad(absl::StrCat("epoch ", epoch, " outside [0, 2^32)"));
  }
  if (index < 0 || index >= batches_per_epoch()) {
    return bad(absl::StrCat("index ", index, " outside [0, ", batches_per_epoch(),
                            ") (batches per epoch)"));
  }
  epoch_ = epoch;
  index_ = index;
  return absl::OkStatus();
}

absl::StatusOr<TrainValLoaders> MakeTrainValLoaders(
    std::shared_ptr<const std::vector<int32_t>> tokens, const BatchLoaderOptions& options,
    int64_t val_batches) {
  KILN_CHECK(tokens != nullptr) << "MakeTrainValLoaders: tokens is null";
  KILN_CHECK(val_batches >= 1) << "MakeTrainValLoaders: val_batches must be >= 1, got "
                               << val_batches;
  KILN_CHECK(options.batch_size >= 1 && options.seq_len >= 1)
      << "MakeTrainValLoaders: batch_size and seq_len must be >= 1";
  const int64_t n = static_cast<int64_t>(tokens->size());
  // Exactly val_batches * B windows: W*T + 1 tokens. Overflow only for absurd arguments.
  const int64_t val_windows = val_batches * options.batch_size;
  KILN_CHECK(val_windows / options.batch_size == val_batches &&
             val_windows < (INT64_MAX - 1) / options.seq_len)
      << "MakeTrainValLoaders: val_batches * batch_size * seq_len overflows";
  const int64_t val_tokens = val_windows * options.seq_len + 1;
  if (val_tokens > n) {
    return absl::InvalidArgumentError(absl::StrCat("val: ", val_batches, " batches need ",
                                                   val_tokens, " tokens, the stream has ", n));
  }
  BatchLoaderOptions val_options = options;
  val_options.shuffle = false;
  val_options.seed = 0;
  auto val = BatchLoader::Create(tokens, val_options, "val", n - val_tokens, n);
  if (!val.ok()) return val.status();
  auto train = BatchLoader::Create(tokens, options, "train", 0, n - val_tokens);
  if (!train.ok()) return train.status();
  return TrainValLoaders{std::move(*train), std::move(*val)};
}

}  // namespace kiln::data
