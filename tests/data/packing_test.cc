// Packing keeps every example exactly: the packed row's ids, targets, loss mask and position ids
// over each document equal the unpacked example's (including one cut by truncation), attention
// never crosses a document, and padding carries no weight.
#include "data/packing.h"

#include <gtest/gtest.h>

#include "base/check.h"

namespace kiln::data {
namespace {

std::vector<TokenizedExample> Examples(int max_len) {
  ByteTokenizer tok;
  std::vector<std::pair<std::string, std::string>> pairs = {
      {"2+2?", "4"},
      {"sort 3 1 2", "1 2 3"},
      {"a long prompt here",
       "and a long response that "
       "will be cut by the truncation at max_len"},
      {"q", "a"},
      {"hello", "world"},
      {"x", ""}};
  std::vector<TokenizedExample> out;
  for (const auto& [p, r] : pairs) out.push_back(*TokenizeExample(tok, p, r, {.max_len = max_len}));
  return out;
}

TEST(Packing, PackedDocumentsEqualUnpackedExamples) {
  const int max_len = 40;
  auto ex = Examples(max_len);
  ASSERT_TRUE(ex[2].truncated);
  auto rows = PackExamples(ex, max_len, ByteTokenizer().pad_id());
  int seen = 0;
  double packed_weight = 0, unpacked_weight = 0;
  for (const auto& e : ex) {
    for (float m : e.loss_mask) unpacked_weight += m;
  }
  for (const auto& row : rows) {
    ASSERT_EQ(row.ids.size(), static_cast<size_t>(max_len));
    ASSERT_EQ(row.doc_starts.size(), row.examples.size() + 1);
    for (size_t d = 0; d < row.examples.size(); ++d) {
      const TokenizedExample& e = ex[row.examples[d]];
      EXPECT_EQ(row.examples[d], seen++);  // order kept
      int s = row.doc_starts[d];
      ASSERT_EQ(row.doc_starts[d + 1] - s, e.length);
      for (int t = 0; t < e.length; ++t) {
        EXPECT_EQ(row.ids[s + t], e.ids[t]);
        EXPECT_EQ(row.targets[s + t], e.targets[t]);
        EXPECT_EQ(row.loss_mask[s + t], e.loss_mask[t]);
        EXPECT_EQ(row.positions[s + t], t);  // positions restart per document
        EXPECT_EQ(row.doc_ids[s + t], static_cast<int>(d));
      }
      // No label crosses into the next document.
      EXPECT_EQ(row.loss_mask[s + e.length - 1], 0.0f);
    }
    for (int t = row.doc_starts.back(); t < max_len; ++t) {
      EXPECT_EQ(row.doc_ids[t], -1);
      EXPECT_EQ(row.loss_mask[t], 0.0f);
    }
    for (float m : row.loss_mask) packed_weight += m;
  }
  EXPECT_EQ(seen, static_cast<int>(ex.size()));
  EXPECT_EQ(packed_weight, unpacked_weight);
  EXPECT_GT(rows.size(), 1u);
  EXPECT_LT(rows.size(), ex.size());  // something was actually packed together
}

TEST(Packing, AttentionStaysInsideDocuments) {
  auto ex = Examples(64);
  auto rows = PackExamples(ex, 64, 0);
  const PackedRow& row = rows[0];
  ASSERT_GE(row.examples.size(), 2u);
  int b = row.doc_starts[1];
  EXPECT_TRUE(Attends(row, b - 1, 0));
  EXPECT_FALSE(Attends(row, b, b - 1));  // first token of doc 1 cannot see doc 0
  EXPECT_TRUE(Attends(row, b + 1, b));
  EXPECT_FALSE(Attends(row, b, b + 1));  // causal
  EXPECT_FALSE(Attends(row, 63, 63) && row.doc_ids[63] < 0);
}

TEST(Packing, RejectsPaddedOrOverlongExamples) {
  ByteTokenizer tok;
  auto padded = *TokenizeExample(tok, "a", "b", {.max_len = 16, .pad_to_max = true});
  EXPECT_THROW(PackExamples({padded}, 16, 0), Error);
  auto ok = *TokenizeExample(tok, "a", "b", {.max_len = 16});
  EXPECT_THROW(PackExamples({ok}, ok.length - 1, 0), Error);
}

}  // namespace
}  // namespace kiln::data
