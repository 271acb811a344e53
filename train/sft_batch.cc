#include "train/sft_batch.h"

#include <algorithm>
#include <optional>

#include "autograd/api.h"
#include "base/check.h"
#include "data/packing.h"

namespace kiln::train {

constexpr int32_t kIgnore = -100;

int64_t SupervisedTokens(const data::TokenizedExample& ex) {
  int64_t n = 0;
  for (int t = 0; t < ex.length && t < static_cast<int>(ex.loss_mask.size()); ++t) {
    n += ex.loss_mask[t] != 0.0f;
  }
  return n;
}

std::vector<double> ExampleWeights(const std::vector<const data::TokenizedExample*>& batch,
                                   LossNorm norm) {
  std::vector<double> w(batch.size(), 1.0);
  if (norm == LossNorm::kSum) return w;
  int64_t total = 0;
  for (const auto* ex : batch) total += SupervisedTokens(*ex);
  for (size_t i = 0; i < batch.size(); ++i) {
    const int64_t own = SupervisedTokens(*batch[i]);
    if (norm == LossNorm::kToken) {
      w[i] = total > 0 ? 1.0 / static_cast<double>(total) : 0.0;
    } else {
      w[i] = own > 0 ? 1.0 / (static_cast<double>(batch.size()) * static_cast<double>(own)) : 0.0;
    }
  }
  return w;
}

MicroBatch BuildMicroBatch(const std::vector<const data::TokenizedExample*>& examples,
                           const std::vector<double>& weights, bool pack, int max_len,
                           int32_t pad_id) {
  KILN_CHECK(examples.size() == weights.size() && !examples.empty())
      << "BuildMicroBatch: " << examples.size() << " examples, " << weights.size() << " weights";
  struct Row {
    std::vector<int32_t> ids, targets, positions, doc_ids;
    std::vector<float> w;
    int used = 0;
  };
  std::vector<Row> rows;
  auto add_doc = [&](Row& row, const data::TokenizedExample& ex, double weight, int32_t doc) {
    KILN_CHECK(ex.length > 0 && ex.length <= max_len)
        << "BuildMicroBatch: an example of " << ex.length << " tokens for max_len " << max_len;
    for (int t = 0; t < ex.length; ++t) {
      const bool learn = ex.loss_mask[t] != 0.0f;
      row.ids.push_back(ex.ids[t]);
      row.positions.push_back(ex.positions[t]);
      row.doc_ids.push_back(doc);
      row.targets.push_back(learn ? ex.targets[t] : kIgnore);
      row.w.push_back(learn ? static_cast<float>(weight) : 0.0f);
    }
    row.used += ex.length;
  };
  if (pack) {
    std::vector<data::TokenizedExample> unpadded;
    unpadded.reserve(examples.size());
    for (const auto* ex : examples) {
      data::TokenizedExample u;
      u.length = ex->length;
      u.ids.assign(ex->ids.begin(), ex->ids.begin() + ex->length);
      u.targets.assign(ex->targets.begin(), ex->targets.begin() + ex->length);
      u.positions.assign(ex->positions.begin(), ex->positions.begin() + ex->length);
      u.loss_mask.assign(ex->loss_mask.begin(), ex->loss_mask.begin() + ex->length);
      unpadded.push_back(std::move(u));
    }
    // The greedy layout of data/packing.h (which documents share a row); the tokens are copied
    // from the examples below so each keeps its own weight.
    for (const data::PackedRow& pr : data::PackExamples(unpadded, max_len, pad_id)) {
      Row row;
      for (size_t d = 0; d < pr.examples.size(); ++d) {
        const int i = pr.examples[d];
        add_doc(row, unpadded[i], weights[i], static_cast<int32_t>(d));
      }
      rows.push_back(std::move(row));
    }
  } else {
    for (size_t i = 0; i < examples.size(); ++i) {
      Row row;
      add_doc(row, *examples[i], weights[i], 0);
      rows.push_back(std::move(row));
    }
  }
  int width = 0;
  for (const Row& r : rows) width = std::max(width, r.used);
  MicroBatch mb;
  mb.rows = static_cast<int64_t>(rows.size());
  mb.width = width;
  std::vector<int32_t> ids, targets, positions, doc_ids;
  std::vector<float> w;
  for (Row& r : rows) {
    mb.real_tokens += r.used;
    // Padding is by position: everything past `used` is ignored whatever its id.
    r.ids.resize(width, pad_id);
    r.targets.resize(width, kIgnore);
    r.positions.resize(width, 0);
    r.doc_ids.resize(width, -1);
    r.w.resize(width, 0.0f);
    ids.insert(ids.end(), r.ids.begin(), r.ids.end());
    targets.insert(targets.end(), r.targets.begin(), r.targets.end());
    positions.insert(positions.end(), r.positions.begin(), r.positions.end());
    doc_ids.insert(doc_ids.end(), r.doc_ids.begin(), r.doc_ids.end());
    w.insert(w.end(), r.w.begin(), r.w.end());
  }
  const Shape shape{mb.rows, width};
  mb.input.ids = FromVector(ids, shape);
  mb.input.positions = FromVector(positions, shape);
  // Unpacked rows hold one document each with padding only at the end, which causal attention
  // never reads from a real token; packed rows need the document boundaries.
  if (pack) mb.input.doc_ids = FromVector(doc_ids, shape);
  mb.targets = FromVector(targets, shape);
  mb.weights = FromVector(w, shape);
  return mb;
}

Tensor MicroBatchLoss(const nn::GptModel& model, const MicroBatch& mb) {
  // Built on the host; moved to the model's device (no copy when that is the CPU).
  const Device d = model.device();
  auto to = [d](const Tensor& t) { return t.defined() ? t.To(d) : t; };
  const nn::ModelInput in{.ids = to(mb.input.ids), .positions = to(mb.input.positions),
                          .doc_ids = to(mb.input.doc_ids)};
  Tensor logprobs = model.TokenLogprobs(in, to(mb.targets), kIgnore);
  return Neg(Sum(Mul(logprobs, to(mb.weights))));
}

GlobalBatchResult RunGlobalBatch(const nn::GptModel& model,
                                 const std::vector<const data::TokenizedExample*>& batch,
                                 const GlobalBatchOptions& o) {
  const int64_t g = static_cast<int64_t>(batch.size());
  KILN_CHECK(o.micro_batch > 0 && g % o.micro_batch == 0)
      << "RunGlobalBatch: micro-batch " << o.micro_batch << " does not divide the batch " << g;
  GlobalBatchResult r;
  const std::vector<double> weights = ExampleWeights(batch, o.norm);
  for (const auto* ex : batch) r.response_tokens += SupervisedTokens(*ex);
  std::optional<NoGradGuard> no_grad;
  if (!o.backward) no_grad.emplace();
  for (int64_t start = 0; start < g; start += o.micro_batch) {
    std::vector<const data::TokenizedExample*> part(batch.begin() + start,
                                                    batch.begin() + start + o.micro_batch);
    std::vector<double> w(weights.begin() + start, weights.begin() + start + o.micro_batch);
    MicroBatch mb = BuildMicroBatch(part, w, o.pack, o.max_len, o.pad_id);
    r.real_tokens += mb.real_tokens;
    r.computed_tokens += mb.rows * mb.width;
    Tensor loss = MicroBatchLoss(model, mb);
    r.loss += loss.item();
    if (o.backward) Backward(loss);
  }
  return r;
}

}  // namespace kiln::train
