// Greedy order-preserving packing (see packing.h).
#include "data/packing.h"

#include "base/check.h"

namespace kiln::data {

std::vector<PackedRow> PackExamples(const std::vector<TokenizedExample>& examples, int max_len,
                                    int32_t pad_id) {
  KILN_CHECK(max_len > 0) << "PackExamples: max_len must be positive, got " << max_len;
  std::vector<PackedRow> rows;
  auto finish = [&](PackedRow& row) {
    int used = static_cast<int>(row.ids.size());
    row.doc_starts.push_back(used);
    row.ids.resize(max_len, pad_id);
    row.targets.resize(max_len, pad_id);
    row.positions.resize(max_len, 0);
    row.loss_mask.resize(max_len, 0.0f);
    row.doc_ids.resize(max_len, -1);
    rows.push_back(std::move(row));
    row = PackedRow();
  };
  PackedRow cur;
  for (size_t i = 0; i < examples.size(); ++i) {
    const TokenizedExample& ex = examples[i];
    KILN_CHECK(static_cast<int>(ex.ids.size()) == ex.length)
        << "PackExamples: example " << i << " is padded (" << ex.ids.size() << " ids, length "
        << ex.length << "); pack unpadded examples";
    KILN_CHECK(ex.length > 0 && ex.length <= max_len)
        << "PackExamples: example " << i << " has " << ex.length << " tokens, max_len is "
        << max_len << "; truncate it first";
    if (static_cast<int>(cur.ids.size()) + ex.length > max_len) finish(cur);
    int doc = static_cast<int>(cur.examples.size());
    cur.doc_starts.push_back(static_cast<int32_t>(cur.ids.size()));
    cur.examples.push_back(static_cast<int>(i));
    cur.ids.insert(cur.ids.end(), ex.ids.begin(), ex.ids.end());
    cur.targets.insert(cur.targets.end(), ex.targets.begin(), ex.targets.end());
    cur.positions.insert(cur.positions.end(), ex.positions.begin(), ex.positions.end());
    cur.loss_mask.insert(cur.loss_mask.end(), ex.loss_mask.begin(), ex.loss_mask.end());
    cur.doc_ids.insert(cur.doc_ids.end(), ex.length, doc);
  }
  if (!cur.examples.empty()) finish(cur);
  return rows;
}

bool Attends(const PackedRow& row, int q, int k) {
  return k <= q && row.doc_ids[q] >= 0 && row.doc_ids[q] == row.doc_ids[k];
}

}  // namespace kiln::data
