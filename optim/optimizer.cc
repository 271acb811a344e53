// Optimizer base: parameter bookkeeping, the Step loop, and state export / import. The loop visits
// params in group order, so the updates (and anything that depends on their order) are the same
// every run.
#include "optim/optimizer.h"

#include <set>

#include "absl/strings/str_cat.h"

namespace kiln::optim {
namespace {

bool IsEmbeddingName(const std::string& name, const DecaySplitOptions& options) {
  for (const std::string& marker : options.embedding_markers) {
    if (!marker.empty() && name.find(marker) != std::string::npos) return true;
  }
  return false;
}

// A copy of src (row-major) on `device` (the parameter's).
Tensor CopyOf(const Tensor& src, Device device) {
  if (src.device() != device) return src.To(device);
  Tensor t = Tensor::Empty(src.shape(), src.dtype(), device);
  t.CopyFrom_(src);
  return t;
}

}  // namespace

std::vector<ParamGroup> SplitDecayGroups(const std::vector<std::pair<std::string, Tensor>>& named,
                                         const DecaySplitOptions& options) {
  ParamGroup decay, no_decay;
  no_decay.weight_decay = 0.0;
  for (const auto& [name, t] : named) {
    KILN_CHECK(t.defined()) << "SplitDecayGroups: param '" << name << "' is undefined";
    const bool skip = t.dim() <= 1 || (!options.decay_embeddings && IsEmbeddingName(name, options));
    ParamGroup& g = skip ? no_decay : decay;
    g.params.push_back(t);
    g.names.push_back(name);
  }
  return {decay, no_decay};
}

Optimizer::Optimizer(std::vector<ParamGroup> groups, double lr, double default_weight_decay)
    : groups_(std::move(groups)), lr_(lr) {
  KILN_CHECK(lr >= 0) << "Optimizer: expected lr >= 0, got " << lr;
  std::set<std::string> names;
  std::set<const TensorImpl*> seen;
  for (size_t gi = 0; gi < groups_.size(); ++gi) {
    ParamGroup& g = groups_[gi];
    KILN_CHECK(g.names.empty() || g.names.size() == g.params.size())
        << "Optimizer: group " << gi << " has " << g.params.size() << " params but "
        << g.names.size() << " names (give one per param, or none)";
    KILN_CHECK(g.lr_scale >= 0) << "Optimizer: group " << gi << ": expected lr_scale >= 0, got "
                                << g.lr_scale;
    if (!g.weight_decay) g.weight_decay = default_weight_decay;
    KILN_CHECK(*g.weight_decay >= 0)
        << "Optimizer: group " << gi << ": expected weight_decay >= 0, got " << *g.weight_decay;
    for (size_t i = 0; i < g.params.size(); ++i) {
      const Tensor& p = g.params[i];
      std::string name = g.names.empty() ? std::to_string(slots_.size()) : g.names[i];
      KILN_CHECK(p.defined()) << "Optimizer: param '" << name << "' is undefined";
      KILN_CHECK(p.is_contiguous())
          << "Optimizer: param '" << name << "' must be contiguous (it is updated in place)";
      KILN_CHECK(seen.insert(p.impl()).second)
          << "Optimizer: param '" << name << "' appears twice (it would be updated twice)";
      KILN_CHECK(names.insert(name).second) << "Optimizer: two params are named '" << name << "'";
      slots_.push_back({p, std::move(name), gi});
    }
  }
  states_.resize(slots_.size());
}

void Optimizer::Step() {
  ++step_count_;
  for (size_t i = 0; i < slots_.size(); ++i) {
    const Slot& s = slots_[i];
    const Tensor grad = s.param.grad();
    if (!grad.defined()) continue;
    KILN_CHECK(grad.shape() == s.param.shape() && grad.dtype() == s.param.dtype())
        << Name() << ": grad of param '" << s.name << "' has shape " << ShapeToString(grad.shape())
        << " " << DTypeName(grad.dtype()) << ", expected the param's "
        << ShapeToString(s.param.shape()) << " " << DTypeName(s.param.dtype());
    const ParamGroup& g = groups_[s.group];
    ++states_[i].step;
    Update(s.param, grad, lr_ * g.lr_scale, *g.weight_decay, states_[i]);
  }
}

void Optimizer::ZeroGrad() {
  for (const Slot& s : slots_) {
    if (s.param.grad().defined()) s.param.set_grad(Tensor());
  }
}

void Optimizer::SetLr(double lr) {
  KILN_CHECK(lr >= 0) << Name() << ": expected lr >= 0, got " << lr;
  lr_ = lr;
}

std::vector<Tensor> Optimizer::Params() const {
  std::vector<Tensor> out;
  out.reserve(slots_.size());
  for (const Slot& s : slots_) out.push_back(s.param);
  return out;
}

std::map<std::string, Tensor> Optimizer::StateTensors() const {
  std::map<std::string, Tensor> out;
  const std::vector<std::string> buffer_names = BufferNames();
  for (size_t i = 0; i < slots_.size(); ++i) {
    const ParamState& st = states_[i];
    for (size_t b = 0; b < st.buffers.size(); ++b) {
      out[absl::StrCat(slots_[i].name, ".", buffer_names[b])] = st.buffers[b];
    }
  }
  return out;
}

Json Optimizer::StateJson() const {
  Json params = Json::object();
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (states_[i].step > 0) params[slots_[i].name] = Json{{"step", states_[i].step}};
  }
  return Json{{"optimizer", Name()}, {"step", step_count_}, {"lr", lr_}, {"params", params}};
}

absl::Status Optimizer::LoadState(const std::map<std::string, Tensor>& tensors, const Json& json) {
  const std::string where = absl::StrCat(Name(), " state");
  auto invalid = [&](const std::string& msg) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", msg));
  };
  absl::StatusOr<std::string> kind = GetField<std::string>(json, "optimizer", where);
  if (!kind.ok()) return kind.status();
  if (*kind != Name()) {
    return invalid(
        absl::StrCat("field 'optimizer': expected \"", Name(), "\", got \"", *kind, "\""));
  }
  absl::StatusOr<int64_t> step = GetField<int64_t>(json, "step", where);
  if (!step.ok()) return step.status();
  if (*step < 0) return invalid(absl::StrCat("field 'step': expected >= 0, got ", *step));
  absl::StatusOr<double> lr = GetField<double>(json, "lr", where);
  if (!lr.ok()) return lr.status();
  if (!(*lr >= 0)) return invalid(absl::StrCat("field 'lr': expected >= 0, got ", *lr));
  absl::StatusOr<Json> params = GetField<Json>(json, "params", where);
  if (!params.ok()) return params.status();
  if (!params->is_object()) {
    return invalid(absl::StrCat("field 'params': expected an object, got ", params->dump()));
  }

  std::map<std::string, size_t> index;
  for (size_t i = 0; i < slots_.size(); ++i) index[slots_[i].name] = i;
  const std::vector<std::string> buffer_names = BufferNames();
  std::vector<ParamState> states(slots_.size());
  std::set<std::string> expected;
  size_t used_tensors = 0;
  for (auto it = params->begin(); it != params->end(); ++it) {
    const std::string field = absl::StrCat("params.", it.key());
    auto found = index.find(it.key());
    if (found == index.end()) return invalid(absl::StrCat(field, ": no param of that name"));
    const Slot& slot = slots_[found->second];
    absl::StatusOr<int64_t> pstep = GetField<int64_t>(it.value(), "step", where + " " + field);
    if (!pstep.ok()) return pstep.status();
    if (*pstep < 1) return invalid(absl::StrCat(field, ".step: expected >= 1, got ", *pstep));
    ParamState& st = states[found->second];
    st.step = *pstep;
    for (const std::string& b : buffer_names) {
      const std::string name = absl::StrCat(it.key(), ".", b);
      auto t = tensors.find(name);
      if (t == tensors.end()) return invalid(absl::StrCat("missing tensor '", name, "'"));
      if (!t->second.defined()) return invalid(absl::StrCat("tensor '", name, "' is undefined"));
      if (t->second.shape() != slot.param.shape() || t->second.dtype() != slot.param.dtype()) {
        return invalid(absl::StrCat("tensor '", name, "' is ", ShapeToString(t->second.shape()),
                                    " ", DTypeName(t->second.dtype()), ", expected the param's ",
                                    ShapeToString(slot.param.shape()), " ",
                                    DTypeName(slot.param.dtype())));
      }
      st.buffers.push_back(CopyOf(t->second, slot.param.device()));
      expected.insert(name);
      ++used_tensors;
    }
  }
  if (used_tensors != tensors.size()) {
    for (const auto& [name, t] : tensors) {
      if (!expected.count(name)) {
        return invalid(absl::StrCat("unexpected tensor '", name,
                                    "' (no param in field 'params' keeps that buffer)"));
      }
    }
  }
  states_ = std::move(states);
  step_count_ = *step;
  lr_ = *lr;
  return absl::OkStatus();
}

}  // namespace kiln::optim
