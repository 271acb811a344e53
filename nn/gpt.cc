#include "nn/gpt.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "autograd/api.h"
#include "base/check.h"
#include "nn/fusion.h"

namespace kiln::nn {
namespace {

// Llama's parameters live under "model."; this container gives them that prefix.
class Container : public Module {
 public:
  Container() : Module("LlamaModel") {}
  template <typename M>
  M* Add(const std::string& name, std::unique_ptr<M> m) {
    return RegisterModule(name, std::move(m));
  }
};

Tensor DefaultPositions(int64_t b, int64_t t, Device device) {
  std::vector<int32_t> v(b * t);
  for (int64_t i = 0; i < b; ++i) {
    for (int64_t j = 0; j < t; ++j) v[i * t + j] = static_cast<int32_t>(j);
  }
  return FromVector(v, {b, t}, DType::kI32, device);
}

bool IsResidualProjection(const std::string& name) {
  return absl::EndsWith(name, "attn.c_proj.weight") || absl::EndsWith(name, "mlp.c_proj.weight") ||
         absl::EndsWith(name, "o_proj.weight") || absl::EndsWith(name, "down_proj.weight");
}

}  // namespace

PackedPositions PositionsFromEos(const Tensor& ids, int64_t eos) {
  KILN_CHECK(ids.dim() == 2) << "PositionsFromEos: expected ids (B, T), got "
                             << ShapeToString(ids.shape());
  const int64_t b = ids.size(0), t = ids.size(1);
  const std::vector<int64_t> v = ids.ToVector<int64_t>();
  std::vector<int32_t> pos(b * t), doc(b * t);
  for (int64_t i = 0; i < b; ++i) {
    int32_t p = 0, d = 0;
    for (int64_t j = 0; j < t; ++j) {
      pos[i * t + j] = p++;
      doc[i * t + j] = d;
      if (v[i * t + j] == eos) {
        p = 0;
        ++d;
      }
    }
  }
  return {FromVector(pos, {b, t}, DType::kI32, ids.device()),
          FromVector(doc, {b, t}, DType::kI32, ids.device())};
}

GptModel::GptModel(const GptConfig& config) : Module("GptModel"), config_(config) {
  const int64_t c = config.n_embd;
  Module* root = this;
  Container* model = nullptr;
  if (config.is_gpt2()) {
    wte_ = RegisterModule("wte", std::make_unique<Embedding>(config.vocab_size, c));
    wpe_ = RegisterModule("wpe", std::make_unique<Embedding>(config.max_positions, c));
    layers_ = RegisterModule("h", std::make_unique<ModuleList>());
  } else {
    model = RegisterModule("model", std::make_unique<Container>());
    wte_ = model->Add("embed_tokens", std::make_unique<Embedding>(config.vocab_size, c));
    layers_ = model->Add("layers", std::make_unique<ModuleList>());
  }
  for (int64_t i = 0; i < config.n_layer; ++i) {
    blocks_.push_back(layers_->Append(std::make_unique<Block>(config)));
  }
  if (config.is_gpt2()) {
    ln_f_ = RegisterModule("ln_f", std::make_unique<LayerNorm>(c, config.norm_eps));
  } else {
    norm_ = model->Add("norm", std::make_unique<RmsNorm>(c, config.norm_eps));
  }
  if (!config.tie_word_embeddings) {
    lm_head_ = RegisterModule("lm_head", std::make_unique<Linear>(c, config.vocab_size, false));
  }
  (void)root;
}

void GptModel::Init(uint64_t seed) {
  NoGradGuard no_grad;
  const double std = config_.initializer_range;
  const double resid_std = std / std::sqrt(2.0 * static_cast<double>(config_.n_layer));
  const auto named = NamedParameters();
  for (size_t i = 0; i < named.size(); ++i) {
    const std::string& name = named[i].first;
    Tensor p = named[i].second;
    if (p.dim() != 2) continue;  // biases stay 0, norm weights 1 (set at construction)
    const double s = IsResidualProjection(name) ? resid_std : std;
    // Drawn in f64 and rounded once, in row blocks of at most ~1M elements so initializing a
    // large embedding never holds a full f64 copy (element e of the parameter always uses counter
    // (i << 40) + e, so the blocking changes no bits).
    const int64_t rows = p.size(0), cols = p.size(1);
    const int64_t block = std::max<int64_t>(1, (int64_t{1} << 20) / std::max<int64_t>(cols, 1));
    for (int64_t r0 = 0; r0 < rows; r0 += block) {
      const int64_t n = std::min(block, rows - r0);
      Tensor r = Randn({n, cols}, seed, (static_cast<uint64_t>(i) << 40) + r0 * cols, DType::kF64);
      Narrow(p, 0, r0, n).CopyFrom_(ops::MulScalar(r, s));
    }
  }
}

Tensor GptModel::Embed(const Tensor& ids, const Tensor& positions) const {
  Tensor x = wte_->Forward(ids);
  if (wpe_ != nullptr) x = x + wpe_->Forward(positions);
  return x;
}

Tensor GptModel::FinalNorm(const Tensor& x) const {
  return ln_f_ != nullptr ? ln_f_->Forward(x) : norm_->Forward(x);
}

Tensor GptModel::Hidden(const ModelInput& in) const {
  KILN_CHECK(in.ids.defined() && in.ids.dim() == 2)
      << "GptModel: expected ids of shape (B, T), got "
      << (in.ids.defined() ? ShapeToString(in.ids.shape()) : "undefined");
  const int64_t b = in.ids.size(0), t = in.ids.size(1);
  Tensor positions = in.positions.defined() ? in.positions : DefaultPositions(b, t, in.ids.device());
  KILN_CHECK(positions.shape() == in.ids.shape())
      << "GptModel: positions of shape " << ShapeToString(positions.shape())
      << " for ids of shape " << ShapeToString(in.ids.shape());
  if (in.doc_ids.defined()) {
    KILN_CHECK(in.doc_ids.shape() == in.ids.shape())
        << "GptModel: doc_ids of shape " << ShapeToString(in.doc_ids.shape())
        << " for ids of shape " << ShapeToString(in.ids.shape());
  }
  Tensor x = Embed(in.ids, positions);
  for (const Block* blk : blocks_) x = blk->Forward(x, positions, in.doc_ids);
  return FinalNorm(x);
}

Tensor GptModel::Logits(const Tensor& hidden) const {
  if (lm_head_ != nullptr) return lm_head_->Forward(hidden);
  Shape out = hidden.shape();
  out.back() = config_.vocab_size;
  Tensor rows = Reshape(hidden, {hidden.numel() / config_.n_embd, config_.n_embd});
  return Reshape(Matmul(rows, wte_->weight(), false, true), out);
}

Tensor GptModel::TokenLogprobs(const ModelInput& in, const Tensor& targets,
                               int64_t ignore_index) const {
  KILN_CHECK(targets.shape() == in.ids.shape())
      << "GptModel: targets of shape " << ShapeToString(targets.shape()) << " for ids of shape "
      << ShapeToString(in.ids.shape());
  Tensor logits = Forward(in);
  const int64_t n = in.ids.numel();
  Tensor ce = CrossEntropy(Reshape(logits, {n, config_.vocab_size}), Reshape(targets, {n}),
                           ignore_index);
  return Reshape(Neg(ce), in.ids.shape());
}

Tensor GptModel::LossSum(const ModelInput& in, const Tensor& targets,
                         int64_t ignore_index) const {
  KILN_CHECK(targets.shape() == in.ids.shape())
      << "GptModel: targets of shape " << ShapeToString(targets.shape()) << " for ids of shape "
      << ShapeToString(in.ids.shape());
  const int64_t n = in.ids.numel();
  if (!ActiveFusion().ce) {
    return Sum(CrossEntropy(Reshape(Forward(in), {n, config_.vocab_size}), Reshape(targets, {n}),
                            ignore_index));
  }
  // The head and the cross-entropy in one tiled op: no (B, T, V) logits, nor their gradient.
  Tensor hidden = Hidden(in);
  const Tensor& head = lm_head_ != nullptr ? lm_head_->weight() : wte_->weight();
  return Sum(LinearCrossEntropy(Reshape(hidden, {n, config_.n_embd}), head,
                                Reshape(targets, {n}), ignore_index));
}

Tensor GptModel::Loss(const ModelInput& in, const Tensor& targets, int64_t ignore_index) const {
  int64_t count = 0;
  for (int64_t v : targets.ToVector<int64_t>()) count += v != ignore_index;
  KILN_CHECK(count > 0) << "GptModel::Loss: every target is ignore_index (" << ignore_index << ")";
  return MulScalar(LossSum(in, targets, ignore_index), 1.0 / static_cast<double>(count));
}

Tensor GptModel::ForwardCached(const std::vector<int32_t>& tokens,
                               const std::vector<int64_t>& lengths,
                               const std::vector<KvCache*>& caches) const {
  NoGradGuard no_grad;
  KILN_CHECK(lengths.size() == caches.size() && !caches.empty())
      << "GptModel::ForwardCached: " << lengths.size() << " lengths for " << caches.size()
      << " caches";
  const int64_t n = static_cast<int64_t>(tokens.size());
  std::vector<int32_t> pos;
  pos.reserve(n);
  for (size_t s = 0; s < caches.size(); ++s) {
    KILN_CHECK(lengths[s] > 0) << "GptModel::ForwardCached: sample " << s << " has no new tokens";
    for (int64_t j = 0; j < lengths[s]; ++j) {
      pos.push_back(static_cast<int32_t>(caches[s]->length + j));
    }
  }
  KILN_CHECK(static_cast<int64_t>(pos.size()) == n)
      << "GptModel::ForwardCached: lengths sum to " << pos.size() << ", got " << n << " tokens";
  Tensor ids = FromVector(tokens, {1, n}, DType::kI32, device());
  Tensor positions = FromVector(pos, {1, n}, DType::kI32, device());
  Tensor x = Embed(ids, positions);
  for (size_t l = 0; l < blocks_.size(); ++l) {
    x = blocks_[l]->ForwardCached(x, positions, lengths, caches, static_cast<int>(l));
  }
  // Only each sample's last row goes through the final norm and the head.
  std::vector<Tensor> last;
  int64_t row = 0;
  for (size_t s = 0; s < caches.size(); ++s) {
    row += lengths[s];
    last.push_back(Narrow(x, 1, row - 1, 1));
    caches[s]->length += lengths[s];
  }
  Tensor h = last.size() == 1 ? last[0] : Concat(last, 1);
  return Reshape(Logits(FinalNorm(h)), {static_cast<int64_t>(caches.size()), config_.vocab_size});
}

}  // namespace kiln::nn
