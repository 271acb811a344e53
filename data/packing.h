// Packing several tokenized examples into one row of max_len tokens: per-token document ids (the
// attention boundary: a query sees keys of its own document only, causally), positions restarting
// at 0 per document, and every example's own targets and loss mask kept as they were. The last
// token of a document never gets a label from the next one (its mask is 0, as unpacked). Dropping
// the per-example masks while packing is a known bug in other trainers; tests compare each packed
// document with its unpacked example.
#pragma once

#include <cstdint>
#include <vector>

#include "data/chat_template.h"

namespace kiln::data {

struct PackedRow {
  std::vector<int32_t> ids, targets, positions;
  std::vector<float> loss_mask;
  std::vector<int32_t> doc_ids;     // -1 on padding
  std::vector<int32_t> doc_starts;  // start offset of each document, then the end of the last one
  std::vector<int> examples;        // index into the input of each document, in order
};

// Greedy, in input order (deterministic and order-preserving): an example goes into the current
// row if it fits, else starts a new one. Examples must be unpadded and at most max_len long (use
// TokenizeExample's truncation).
std::vector<PackedRow> PackExamples(const std::vector<TokenizedExample>& examples, int max_len,
                                    int32_t pad_id);

// May query position q attend to key position k in this row?
bool Attends(const PackedRow& row, int q, int k);

}  // namespace kiln::data
