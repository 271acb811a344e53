// Batch loader: window layout, epochs, seeded shuffles (a permutation, different per epoch, a pure
// function of (seed, epoch), pinned by a golden order), determinism, exact resume from a saved
// cursor, rejected cursors, document positions / ids, and the train / validation split.
#include "data/batch_loader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>

#include "base/check.h"
#include "tests/testing/error_util.h"

namespace kiln::data {
namespace {

std::shared_ptr<const std::vector<int32_t>> Iota(int n) {
  auto v = std::make_shared<std::vector<int32_t>>(n);
  std::iota(v->begin(), v->end(), 0);
  return v;
}

BatchLoader Make(std::shared_ptr<const std::vector<int32_t>> tokens, BatchLoaderOptions o,
                 const std::string& name = "train") {
  auto l = BatchLoader::Create(std::move(tokens), o, name);
  EXPECT_TRUE(l.ok()) << l.status();
  return std::move(*l);
}

void ExpectSameBatch(const Batch& a, const Batch& b) {
  EXPECT_EQ(a.epoch, b.epoch);
  EXPECT_EQ(a.index, b.index);
  EXPECT_EQ(a.windows, b.windows);
  EXPECT_EQ(a.inputs, b.inputs);
  EXPECT_EQ(a.targets, b.targets);
  EXPECT_EQ(a.positions, b.positions);
  EXPECT_EQ(a.doc_ids, b.doc_ids);
}

TEST(BatchLoader, SequentialWindowsAndEpochs) {
  // 23 tokens, T = 4: windows start at 0, 4, ..., 20 would need token 24, so (23-1)/4 = 5 windows;
  // B = 2: 2 batches per epoch, window 4 is left over.
  BatchLoader l = Make(Iota(23), {.batch_size = 2, .seq_len = 4});
  EXPECT_EQ(l.num_windows(), 5);
  EXPECT_EQ(l.batches_per_epoch(), 2);
  Batch b = l.Next();
  EXPECT_EQ(b.inputs, (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(b.targets, (std::vector<int32_t>{1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(b.positions, (std::vector<int32_t>{0, 1, 2, 3, 0, 1, 2, 3}));
  EXPECT_EQ(b.doc_ids, std::vector<int32_t>(8, 0));
  EXPECT_EQ(b.windows, (std::vector<int64_t>{0, 1}));
  b = l.Next();
  EXPECT_EQ(b.inputs, (std::vector<int32_t>{8, 9, 10, 11, 12, 13, 14, 15}));
  EXPECT_EQ(b.targets.back(), 16);
  EXPECT_EQ(l.epoch(), 1);
  EXPECT_EQ(l.index(), 0);
  b = l.Next();  // epoch 1 repeats epoch 0 in sequential mode
  EXPECT_EQ(b.epoch, 1);
  EXPECT_EQ(b.windows, (std::vector<int64_t>{0, 1}));
  // The last token of the stream is a target: 4*T + 1 = 17 tokens make exactly 4 windows.
  EXPECT_EQ(Make(Iota(17), {.batch_size = 1, .seq_len = 4}).num_windows(), 4);
  EXPECT_EQ(Make(Iota(16), {.batch_size = 1, .seq_len = 4}).num_windows(), 3);
}

TEST(BatchLoader, ShufflePermutesPerEpochAndIsPinned) {
  BatchLoader l =
      Make(Iota(10 * 8 + 1), {.batch_size = 2, .seq_len = 8, .shuffle = true, .seed = 1});
  ASSERT_EQ(l.num_windows(), 10);
  std::vector<std::vector<int64_t>> orders;
  for (int e = 0; e < 4; ++e) {
    std::vector<int64_t> o = l.EpochOrder(e);
    std::vector<int64_t> sorted = o;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int64_t> iota(10);
    std::iota(iota.begin(), iota.end(), 0);
    EXPECT_EQ(sorted, iota) << "epoch " << e << " is not a permutation";
    for (const auto& prev : orders) EXPECT_NE(o, prev) << "epoch " << e << " repeats";
    orders.push_back(o);
  }
  // Golden: changing the draw would silently change every resumed run's data order.
  EXPECT_EQ(orders[0], (std::vector<int64_t>{5, 6, 2, 8, 1, 7, 3, 9, 4, 0}));
  // A pure function of (seed, epoch): the same whatever was asked before.
  BatchLoader fresh = Make(Iota(81), {.batch_size = 2, .seq_len = 8, .shuffle = true, .seed = 1});
  EXPECT_EQ(fresh.EpochOrder(3), orders[3]);
  EXPECT_EQ(fresh.EpochOrder(0), orders[0]);
  // Another seed gives another order; sequential mode is the identity.
  BatchLoader other = Make(Iota(81), {.batch_size = 2, .seq_len = 8, .shuffle = true, .seed = 2});
  EXPECT_NE(other.EpochOrder(0), orders[0]);
  BatchLoader seq = Make(Iota(81), {.batch_size = 2, .seq_len = 8});
  EXPECT_EQ(seq.EpochOrder(7), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(BatchLoader, ShuffleIsRoughlyUniform) {
  // 4 windows: each of the 24 orders should appear ~100 times in 2400 epochs. Loose bounds (a
  // binomial sd is ~10): this catches a broken Fisher-Yates (e.g. drawing from [0, n) every
  // step), not small biases.
  BatchLoader l =
      Make(Iota(4 * 2 + 1), {.batch_size = 1, .seq_len = 2, .shuffle = true, .seed = 7});
  std::map<std::vector<int64_t>, int> count;
  for (int e = 0; e < 2400; ++e) ++count[l.EpochOrder(e)];
  EXPECT_EQ(count.size(), 24u);
  for (const auto& [order, n] : count) EXPECT_TRUE(n > 50 && n < 150) << n;
}

TEST(BatchLoader, SameSeedSameBatches) {
  auto tokens = Iota(1000);
  BatchLoaderOptions o{.batch_size = 3, .seq_len = 7, .shuffle = true, .seed = 42};
  BatchLoader a = Make(tokens, o), b = Make(tokens, o);
  // 1000 tokens -> 142 windows -> 47 batches per epoch; run past two epoch boundaries.
  for (int i = 0; i < 100; ++i) ExpectSameBatch(a.Next(), b.Next());
  EXPECT_EQ(a.epoch(), 2);
  // Every batch's rows are the windows its order says, tokens included.
  Batch x = a.BatchAt(1, 5);
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(x.windows[r], a.EpochOrder(1)[5 * 3 + r]);
    EXPECT_EQ(x.inputs[r * 7], x.windows[r] * 7);
    EXPECT_EQ(x.targets[r * 7 + 6], x.windows[r] * 7 + 7);
  }
  o.seed = 43;
  BatchLoader c = Make(tokens, o);
  EXPECT_NE(
      c.Next().windows,
      Make(tokens, {.batch_size = 3, .seq_len = 7, .shuffle = true, .seed = 42}).Next().windows);
}

TEST(BatchLoader, RestoreMidEpochGivesTheSameBatches) {
  auto tokens = Iota(500);
  for (bool shuffle : {false, true}) {
    BatchLoaderOptions o{.batch_size = 4, .seq_len = 5, .shuffle = shuffle, .seed = 9};
    BatchLoader run = Make(tokens, o);
    const int64_t per_epoch = run.batches_per_epoch();  // 99 windows -> 24
    ASSERT_EQ(per_epoch, 24);
    for (int i = 0; i < 37; ++i) run.Next();  // epoch 1, index 13
    // The cursor goes through text, as it would in trainer_state.json.
    std::string saved = run.CursorJson().dump();
    std::vector<Batch> want;
    for (int i = 0; i < 2 * per_epoch; ++i) want.push_back(run.Next());

    BatchLoader resumed = Make(tokens, o);
    resumed.Next();  // a resumed loader's own position does not matter
    auto st = resumed.RestoreCursor(Json::parse(saved));
    ASSERT_TRUE(st.ok()) << st;
    EXPECT_EQ(resumed.epoch(), 1);
    EXPECT_EQ(resumed.index(), 13);
    for (const Batch& w : want) ExpectSameBatch(resumed.Next(), w);
  }
}

TEST(BatchLoader, BadCursorsAreRejected) {
  auto tokens = Iota(500);
  BatchLoaderOptions o{.batch_size = 4, .seq_len = 5, .shuffle = true, .seed = 9};
  BatchLoader l = Make(tokens, o);
  l.Next();
  const Json good = l.CursorJson();
  BatchLoader target = Make(tokens, o);
  auto error = [&](const Json& c) {
    absl::Status s = target.RestoreCursor(c, "run/trainer_state.json: data_cursor");
    EXPECT_FALSE(s.ok());
    std::string m(s.message());
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
    EXPECT_EQ(m.rfind("run/trainer_state.json: data_cursor: ", 0), 0u) << m;
    // A failed restore leaves the cursor alone.
    EXPECT_EQ(target.epoch(), 0);
    EXPECT_EQ(target.index(), 0);
    return m;
  };
  auto with = [&](const char* field, const Json& v) {
    Json c = good;
    c[field] = v;
    return c;
  };
  EXPECT_HAS(error(Json::array()), "expected a JSON object");
  Json missing = good;
  missing.erase("epoch");
  EXPECT_HAS(error(missing), "missing field 'epoch'");
  EXPECT_HAS(error(with("seed", 10)), "cursor is for seed 10, this loader has seed 9");
  EXPECT_HAS(error(with("seq_len", 6)), "cursor is for seq_len 6, this loader has 5");
  EXPECT_HAS(error(with("batch_size", 8)), "cursor is for batch_size 8, this loader has 4");
  EXPECT_HAS(error(with("tokens", 499)), "cursor is for tokens 499, this loader has 500");
  EXPECT_HAS(error(with("shuffle", false)),
             "cursor is for a sequential loader, this one is shuffled");
  EXPECT_HAS(error(with("name", "val")), "cursor is for the \"val\" loader, this is \"train\"");
  EXPECT_HAS(error(with("index", 24)), "index 24 outside [0, 24) (batches per epoch)");
  EXPECT_HAS(error(with("index", -1)), "index -1 outside");
  EXPECT_HAS(error(with("epoch", -2)), "epoch -2 outside");
  EXPECT_HAS(error(with("epoch", "3")), "field 'epoch': expected an integer, got \"3\"");
  EXPECT_HAS(error(with("index", 1.5)), "field 'index': expected an integer, got 1.5");
  EXPECT_HAS(error(with("epoch", ~uint64_t{0})), "field 'epoch': expected an integer");
  // Same count, other tokens.
  auto other = std::make_shared<std::vector<int32_t>>(*tokens);
  (*other)[123] = 7;
  BatchLoader elsewhere = Make(other, o);
  absl::Status s = elsewhere.RestoreCursor(good);
  ASSERT_FALSE(s.ok());
  EXPECT_HAS(std::string(s.message()), "cursor: cursor is for other tokens (checksum ");
  // And the good one restores.
  EXPECT_TRUE(target.RestoreCursor(good).ok());
  EXPECT_EQ(target.index(), 1);
}

TEST(BatchLoader, DocumentPositionsRestartAfterEos) {
  const int32_t eos = 99;
  // Window of T = 8 (9 tokens): a doc cut by the window start, two eos in a row, a new doc.
  auto tokens = std::make_shared<std::vector<int32_t>>(
      std::vector<int32_t>{5, 6, eos, 7, 8, eos, eos, 9, 10});
  BatchLoader l = Make(tokens, {.batch_size = 1, .seq_len = 8, .eos_id = eos});
  Batch b = l.Next();
  EXPECT_EQ(b.inputs, (std::vector<int32_t>{5, 6, eos, 7, 8, eos, eos, 9}));
  EXPECT_EQ(b.targets, (std::vector<int32_t>{6, eos, 7, 8, eos, eos, 9, 10}));
  // The eos belongs to the document it ends; the next token starts a new one at position 0.
  EXPECT_EQ(b.positions, (std::vector<int32_t>{0, 1, 2, 0, 1, 2, 0, 0}));
  EXPECT_EQ(b.doc_ids, (std::vector<int32_t>{0, 0, 0, 1, 1, 1, 2, 3}));
  // Without eos_id the same window is one document.
  BatchLoader plain = Make(tokens, {.batch_size = 1, .seq_len = 8});
  b = plain.Next();
  EXPECT_EQ(b.positions, (std::vector<int32_t>{0, 1, 2, 3, 4, 5, 6, 7}));
  EXPECT_EQ(b.doc_ids, std::vector<int32_t>(8, 0));
  // An eos as the last input of a row starts nothing inside the row; the next row starts at 0.
  auto t2 = std::make_shared<std::vector<int32_t>>(std::vector<int32_t>{1, eos, 2, 3, 4});
  BatchLoader rows = Make(t2, {.batch_size = 2, .seq_len = 2, .eos_id = eos});
  b = rows.Next();
  EXPECT_EQ(b.positions, (std::vector<int32_t>{0, 1, 0, 1}));
  EXPECT_EQ(b.doc_ids, (std::vector<int32_t>{0, 0, 0, 0}));
}

TEST(BatchLoader, TrainValSplit) {
  auto tokens = Iota(1000);
  BatchLoaderOptions o{.batch_size = 2, .seq_len = 10, .shuffle = true, .seed = 3, .eos_id = 5};
  auto split = MakeTrainValLoaders(tokens, o, /*val_batches=*/3);
  ASSERT_TRUE(split.ok()) << split.status();
  BatchLoader& val = split->val;
  BatchLoader& train = split->train;
  // Validation: the last 3 * 2 * 10 + 1 = 61 tokens, sequential, every window used once.
  EXPECT_EQ(val.num_tokens(), 61);
  EXPECT_EQ(val.num_windows(), 6);
  EXPECT_EQ(val.batches_per_epoch(), 3);
  EXPECT_FALSE(val.options().shuffle);
  EXPECT_EQ(val.options().eos_id, 5);
  EXPECT_EQ(val.name(), "val");
  EXPECT_EQ(train.num_tokens(), 939);
  int32_t val_min = 1 << 30, train_max = -1;
  for (int i = 0; i < val.batches_per_epoch(); ++i) {
    Batch b = val.Next();
    for (int32_t t : b.inputs) val_min = std::min(val_min, t);
  }
  EXPECT_EQ(val_min, 939);
  EXPECT_EQ(val.epoch(), 1);
  for (int i = 0; i < train.batches_per_epoch(); ++i) {
    Batch b = train.Next();
    for (int32_t t : b.targets) train_max = std::max(train_max, t);
  }
  EXPECT_LT(train_max, 939);  // no train target is a validation token
  // A train cursor does not restore into the validation loader.
  EXPECT_HAS(std::string(val.RestoreCursor(train.CursorJson()).message()),
             "cursor is for the \"train\" loader");
  // Too short.
  auto short_split = MakeTrainValLoaders(Iota(100), o, 5);
  ASSERT_FALSE(short_split.ok());
  EXPECT_HAS(std::string(short_split.status().message()),
             "val: 5 batches need 101 tokens, the stream has 100");
  short_split = MakeTrainValLoaders(Iota(110), o, 5);
  ASSERT_FALSE(short_split.ok());
  EXPECT_HAS(std::string(short_split.status().message()),
             "train: 9 tokens make 0 windows of 10+1 tokens, fewer than one batch of 2");
}

TEST(BatchLoader, MisuseAndShortStreams) {
  EXPECT_HAS(ErrorOf([] { (void)BatchLoader::Create(Iota(10), {.batch_size = 0, .seq_len = 2}); }),
             "batch_size and seq_len must be >= 1");
  EXPECT_HAS(ErrorOf([] { (void)BatchLoader::Create(nullptr, {}); }), "tokens is null");
  EXPECT_HAS(ErrorOf([] { (void)BatchLoader::Create(Iota(10), {}, "x", 5, 11); }),
             "token range [5, 11) outside [0, 10)");
  auto r = BatchLoader::Create(Iota(8), {.batch_size = 2, .seq_len = 4}, "shard.tok");
  ASSERT_FALSE(r.ok());
  EXPECT_HAS(std::string(r.status().message()),
             "shard.tok: 8 tokens make 1 windows of 4+1 tokens, fewer than one batch of 2");
  r = BatchLoader::Create(Iota(0), {}, "empty");
  EXPECT_FALSE(r.ok());
  BatchLoader l = Make(Iota(9), {.batch_size = 2, .seq_len = 4});
  EXPECT_HAS(ErrorOf([&] { (void)l.BatchAt(0, 1); }), "index 1 outside [0, 1)");
}

}  // namespace
}  // namespace kiln::data
