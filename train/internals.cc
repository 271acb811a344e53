#include "train/internals.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace kiln::train {

Json TensorStats::ToJson() const {
  return Json{{"n", n},          {"mean", mean},           {"std", std},
              {"max_abs", max_abs}, {"zero_frac", zero_frac}, {"rms", rms}};
}

TensorStats ComputeStats(const Tensor& t) {
  TensorStats s;
  std::vector<double> v = t.ToVector<double>();
  s.n = static_cast<int64_t>(v.size());
  if (v.empty()) return s;
  double sum = 0, sq = 0, max_abs = 0;
  int64_t zeros = 0;
  for (double x : v) {
    sum += x;
    sq += x * x;
    max_abs = std::fmax(max_abs, std::fabs(x));
    zeros += x == 0.0;
  }
  const double n = static_cast<double>(v.size());
  s.mean = sum / n;
  double var = 0;
  for (double x : v) var += (x - s.mean) * (x - s.mean);
  s.std = std::sqrt(var / n);
  s.max_abs = max_abs;
  s.zero_frac = static_cast<double>(zeros) / n;
  s.rms = std::sqrt(sq / n);
  return s;
}

double L2Norm(const Tensor& t) {
  double sq = 0;
  for (double x : t.ToVector<double>()) sq += x * x;
  return std::sqrt(sq);
}

std::string LayerOf(const std::string& param_name) {
  std::vector<std::string> parts = absl::StrSplit(param_name, '.');
  // The first numeric component closes the layer name ("h.3", "model.layers.2").
  for (size_t i = 0; i < parts.size(); ++i) {
    int64_t k;
    if (absl::SimpleAtoi(parts[i], &k)) {
      std::string out = parts[0];
      for (size_t j = 1; j <= i; ++j) out += "." + parts[j];
      return out;
    }
  }
  // No index: the module that holds the tensor (drop ".weight" / ".bias").
  if (parts.size() > 1) parts.pop_back();
  std::string out = parts[0];
  for (size_t j = 1; j < parts.size(); ++j) out += "." + parts[j];
  return out;
}

ActivationRecorder::ActivationRecorder(nn::Module& root) : root_(root) {
  forward_handle_ = root_.AddForwardHook(
      [this](const std::string& name, const nn::Module& m, const Tensor& out) {
        if (!enabled_) return;
        ++forward_calls_;
        const std::string key = name.empty() ? "(root)" : name;
        if (entries_.count(key)) return;  // a module called twice keeps its first output
        Entry& e = entries_[key];
        e.type = m.type();
        e.stats = ComputeStats(out);
      });
  backward_handle_ = root_.AddBackwardHook(
      [this](const std::string& name, const nn::Module&, const Tensor& grad) {
        if (!enabled_) return;
        ++backward_calls_;
        auto it = entries_.find(name.empty() ? "(root)" : name);
        if (it == entries_.end() || it->second.has_grad) return;
        it->second.has_grad = true;
        it->second.grad_norm = L2Norm(grad);
      });
}

ActivationRecorder::~ActivationRecorder() {
  root_.RemoveHook(forward_handle_);
  root_.RemoveHook(backward_handle_);
}

void ActivationRecorder::Clear() {
  entries_.clear();
  forward_calls_ = backward_calls_ = 0;
}

Json ActivationRecorder::ToJson() const {
  Json j = Json::object();
  for (const auto& [name, e] : entries_) {
    Json r = e.stats.ToJson();
    r["type"] = e.type;
    if (e.has_grad) r["grad_norm"] = e.grad_norm;
    j[name] = std::move(r);
  }
  return j;
}

ParamSnapshot SnapshotParams(const std::vector<std::pair<std::string, Tensor>>& named) {
  ParamSnapshot out;
  out.reserve(named.size());
  for (const auto& [name, t] : named) out.emplace_back(name, t.ToVector<float>());
  return out;
}

Json LayerNorms(const std::vector<std::pair<std::string, Tensor>>& named,
                const std::vector<Tensor>& grads, const ParamSnapshot& before) {
  struct Acc {
    double w = 0, g = 0, u = 0;
    int64_t params = 0;
  };
  std::vector<std::string> order;  // layers in parameter order
  std::map<std::string, Acc> acc;
  for (size_t i = 0; i < named.size(); ++i) {
    const auto& [name, t] = named[i];
    const std::string layer = LayerOf(name);
    if (!acc.count(layer)) order.push_back(layer);
    Acc& a = acc[layer];
    std::vector<float> now = t.ToVector<float>();
    a.params += static_cast<int64_t>(now.size());
    for (float x : now) a.w += static_cast<double>(x) * x;
    if (i < grads.size() && grads[i].defined()) {
      for (double x : grads[i].ToVector<double>()) a.g += x * x;
    }
    if (i < before.size()) {
      const std::vector<float>& old = before[i].second;
      for (size_t k = 0; k < now.size() && k < old.size(); ++k) {
        double d = static_cast<double>(now[k]) - static_cast<double>(old[k]);
        a.u += d * d;
      }
    }
  }
  Json j = Json::object();
  for (const auto& layer : order) {
    const Acc& a = acc[layer];
    Json r{{"params", a.params},
           {"weight_norm", std::sqrt(a.w)},
           {"grad_norm", std::sqrt(a.g)}};
    if (!before.empty()) {
      r["update_norm"] = std::sqrt(a.u);
      r["update_ratio"] = a.w > 0 ? std::sqrt(a.u) / std::sqrt(a.w) : 0.0;
    }
    j[layer] = std::move(r);
  }
  return j;
}

}  // namespace kiln::train
