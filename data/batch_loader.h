// Deterministic pretraining batches from a token stream. The stream is cut into windows of
// seq_len + 1 tokens with stride seq_len (window w covers tokens [w*T, w*T + T]; inputs are its
// first T tokens, targets its last T). A batch is batch_size windows, taken in order (sequential)
// or in a per-epoch permutation drawn from Philox(seed, draw, epoch) (shuffle), so batch (epoch,
// index) is a pure function of the config and the tokens: a loader restored from its cursor gives
// exactly the batches the uninterrupted one would have. Format and rules: docs/token_files.md.
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

struct BatchLoaderOptions {
  int64_t batch_size = 1;  // B
  int64_t seq_len = 1;     // T
  bool shuffle = false;
  uint64_t seed = 0;  // shuffle only
  // Packed documents: when set, a new document starts after each input equal to eos_id, and
  // positions / doc_ids restart there. Unset: one document per row (positions 0..T-1, doc 0).
  std::optional<int32_t> eos_id;
};

// One batch, row-major [batch_size, seq_len], int32 throughout: Embedding and CrossEntropy take
// i32 ids, Rope i32 positions and Attention i32 doc ids (ops/api.h).
struct Batch {
  int64_t batch_size = 0, seq_len = 0;
  std::vector<int32_t> inputs, targets;
  // Position of each input in its document, counted from the row's first token (a document cut by
  // the window start begins at 0: RoPE only sees relative positions inside the window anyway).
  std::vector<int32_t> positions;
  // 0 for the row's first document, +1 after each eos input: Attention's doc_ids (equal runs).
  std::vector<int32_t> doc_ids;
  std::vector<int64_t> windows;  // window index of each row (within the loader's tokens)
  int64_t epoch = 0, index = 0;  // the cursor this batch was taken at
};

class BatchLoader {
 public:
  // Loads windows from tokens[begin, end). Throws kiln::Error on a caller mistake (batch_size or
  // seq_len < 1, a bad range, a null pointer); fails with a Status naming `name` when the range
  // is too short for one batch (data, not code).
  static absl::StatusOr<BatchLoader> Create(std::shared_ptr<const std::vector<int32_t>> tokens,
                                            const BatchLoaderOptions& options,
                                            const std::string& name = "train", int64_t begin = 0,
                                            int64_t end = -1);

  // The batch at the cursor; then the cursor moves on (to the next epoch after the last batch).
  Batch Next();
  // Any batch, without moving the cursor (same result as Next() would give there).
  Batch BatchAt(int64_t epoch, int64_t index) const;

  int64_t num_windows() const { return num_windows_; }
  // Full batches per epoch; the windows left over (num_windows % batch_size) are skipped each epoch
  // (in shuffle mode a different set each epoch).
  int64_t batches_per_epoch() const { return num_windows_ / options_.batch_size; }
  int64_t num_tokens() const { return end_ - begin_; }
  int64_t epoch() const { return epoch_; }
  int64_t index() const { return index_; }
  const BatchLoaderOptions& options() const { return options_; }
  const std::string& name() const { return name_; }

  // The window order of an epoch: the identity (sequential) or a seeded permutation (shuffle).
  std::vector<int64_t> EpochOrder(int64_t epoch) const;

  // {"epoch", "index"} plus the config it is valid for (name, token count and checksum,
  // batch_size, seq_len, shuffle, seed), so a cursor from another run is caught on restore.
  Json CursorJson() const;
  // Fails, naming `where` and the first field that differs, if the cursor was saved by a loader
  // with another config or other tokens, or is out of range; the cursor is unchanged then.
  absl::Status RestoreCursor(const Json& cursor, const std::string& where = "cursor");

 private:
  BatchLoader() = default;
  const std::vector<int64_t>& Order(int64_t epoch) const;

  std::shared_ptr<const std::vector<int32_t>> tokens_;
  BatchLoaderOptions options_;
  std::string name_;
  int64_t begin_ = 0, end_ = 0, num_windows_ = 0;
  uint64_t token_hash_ = 0;
  int64_t epoch_ = 0, index_ = 0;
  // The permutation of one epoch, kept so Next() does not redraw it per batch. Not thread safe.
  mutable int64_t cached_epoch_ = -1;
  mutable std::vector<int64_t> cached_order_;
};

// Train / validation split of one stream: the validation loader gets the last
// val_batches * batch_size windows' worth of tokens (val_batches * B * T + 1 tokens at the end),
// sequential, with the train options' seq_len, batch size and eos_id; the train loader gets the
// tokens before them. The two share no token, so no target of the train set is a validation token.
struct TrainValLoaders {
  BatchLoader train, val;
};
absl::StatusOr<TrainValLoaders> MakeTrainValLoaders(
    std::shared_ptr<const std::vector<int32_t>> tokens, const BatchLoaderOptions& options,
    int64_t val_batches);

}  // namespace kiln::data
