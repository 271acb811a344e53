#include "nn/module.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "autograd/grad_mode.h"
#include "autograd/hooks.h"
#include "base/check.h"

namespace kiln::nn {

std::string Module::FullName() const {
  std::string name = local_name_;
  for (const Module* p = parent_; p != nullptr && p->parent_ != nullptr; p = p->parent_) {
    name = p->local_name_ + "." + name;
  }
  return name;
}

Tensor Module::RegisterParameter(const std::string& name, Tensor value) {
  KILN_CHECK(value.defined()) << type_ << ": parameter '" << name << "' is undefined";
  for (const auto& [n, t] : params_) {
    KILN_CHECK(n != name) << type_ << ": parameter '" << name << "' registered twice";
  }
  value.set_requires_grad(true);
  params_.emplace_back(name, value);
  return value;
}

void Module::RegisterTied(const std::string& name, const Tensor& param) {
  tied_.emplace_back(name, param);
}

void Module::AdoptChild(const std::string& name, std::unique_ptr<Module> child) {
  KILN_CHECK(child != nullptr) << type_ << ": null sub-module '" << name << "'";
  child->local_name_ = name;
  child->parent_ = this;
  children_.emplace_back(name, child.get());
  owned_.push_back(std::move(child));
}

void Module::CollectParams(const std::string& prefix, bool with_tied,
                           std::vector<std::pair<std::string, Tensor>>& out) const {
  for (const auto& [n, t] : params_) out.emplace_back(prefix + n, t);
  if (with_tied) {
    for (const auto& [n, t] : tied_) out.emplace_back(prefix + n, t);
  }
  for (const auto& [n, c] : children_) c->CollectParams(prefix + n + ".", with_tied, out);
}

std::vector<std::pair<std::string, Tensor>> Module::NamedParameters() const {
  std::vector<std::pair<std::string, Tensor>> all;
  CollectParams("", /*with_tied=*/false, all);
  return all;
}

std::vector<Tensor> Module::Parameters() const {
  std::vector<Tensor> out;
  for (auto& [n, t] : NamedParameters()) out.push_back(t);
  return out;
}

int64_t Module::NumParameters() const {
  int64_t n = 0;
  for (const auto& t : Parameters()) n += t.numel();
  return n;
}

std::vector<std::pair<std::string, const Module*>> Module::NamedModules() const {
  std::vector<std::pair<std::string, const Module*>> out;
  // Depth first, children in registration order.
  std::function<void(const std::string&, const Module*)> visit = [&](const std::string& name,
                                                                     const Module* m) {
    out.emplace_back(name, m);
    for (const auto& [n, c] : m->children_) visit(name.empty() ? n : name + "." + n, c);
  };
  visit(FullName(), this);
  return out;
}

std::map<std::string, Tensor> Module::StateDict() const {
  std::vector<std::pair<std::string, Tensor>> all;
  CollectParams("", /*with_tied=*/true, all);
  return std::map<std::string, Tensor>(all.begin(), all.end());
}

absl::Status Module::LoadStateDict(const std::map<std::string, Tensor>& state,
                                   const std::string& where) {
  const std::map<std::string, Tensor> mine = StateDict();
  for (const auto& [name, param] : mine) {
    auto it = state.find(name);
    if (it == state.end()) {
      return absl::NotFoundError(absl::StrCat(where, ": missing tensor '", name, "' (shape ",
                                              ShapeToString(param.shape()), ")"));
    }
    const Tensor& src = it->second;
    if (src.shape() != param.shape()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": tensor '", name, "' has shape ", ShapeToString(src.shape()),
                       " but the config needs ", ShapeToString(param.shape())));
    }
    const DType d = src.dtype();
    if (d != DType::kF32 && d != DType::kF64 && d != DType::kF16 && d != DType::kBF16) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": tensor '", name, "' has dtype ",
                                                     DTypeName(d), ", expected a float dtype"));
    }
  }
  for (const auto& [name, t] : state) {
    if (!mine.count(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": unexpected tensor '", name, "' (not a parameter of this model)"));
    }
  }
  NoGradGuard no_grad;
  for (const auto& [name, param] : mine) {
    Tensor dst = param;
    dst.CopyFrom_(state.at(name));
  }
  return absl::OkStatus();
}

void Module::To(Device device) {
  for (const auto& [name, param] : NamedParameters()) {
    if (param.device() == device) continue;
    const Tensor moved = param.To(device);
    TensorImpl* impl = param.impl();
    impl->storage = moved.storage();
    impl->offset = 0;
    impl->strides = moved.strides();
    param.set_grad(Tensor());
  }
}

Device Module::device() const {
  const auto params = NamedParameters();
  return params.empty() ? Device::CPU() : params.front().second.device();
}

void Module::SetTraining(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->SetTraining(on);
}

int Module::AddForwardHook(ForwardHook hook) {
  const int id = next_hook_++;
  hooks_->forward.emplace_back(id, std::move(hook));
  return id;
}

int Module::AddBackwardHook(BackwardHook hook) {
  const int id = next_hook_++;
  hooks_->backward.emplace_back(id, std::move(hook));
  return id;
}

void Module::RemoveHook(int handle) {
  auto& f = hooks_->forward;
  f.erase(std::remove_if(f.begin(), f.end(), [&](const auto& p) { return p.first == handle; }),
          f.end());
  auto& b = hooks_->backward;
  b.erase(std::remove_if(b.begin(), b.end(), [&](const auto& p) { return p.first == handle; }),
          b.end());
}

bool Module::Hooked() const {
  for (const Module* m = this; m != nullptr; m = m->parent_) {
    if (!m->hooks_->forward.empty() || !m->hooks_->backward.empty()) return true;
  }
  return false;
}

Tensor Module::Output(const Tensor& output) const {
  bool any_backward = false;
  std::string name;
  bool named = false;
  for (const Module* m = this; m != nullptr; m = m->parent_) {
    if (m->hooks_->forward.empty() && m->hooks_->backward.empty()) continue;
    if (!named) {
      name = FullName();
      named = true;
    }
    for (const auto& [id, hook] : m->hooks_->forward) hook(name, *this, output);
    any_backward = any_backward || !m->hooks_->backward.empty();
  }
  if (any_backward && output.requires_grad() && output.autograd_meta()->grad_fn) {
    // The hook list is captured by shared_ptr so a hook removed later stays alive for a graph
    // already built; copies of the hooks as they are now keep the call order fixed.
    std::vector<BackwardHook> hooks;
    for (const Module* m = this; m != nullptr; m = m->parent_) {
      for (const auto& [id, hook] : m->hooks_->backward) hooks.push_back(hook);
    }
    const Module* self = this;
    RegisterGradHook(output, [hooks, name, self](const Tensor& g) {
      for (const auto& h : hooks) h(name, *self, g);
    });
  }
  return output;
}

}  // namespace kiln::nn
