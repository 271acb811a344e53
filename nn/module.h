// nn::Module: a named tree of parameters and sub-modules, as in PyTorch. Names are the dotted
// paths of registration ("h.0.attn.c_attn.weight"), so the models' state dicts use Hugging Face's
// names. Modules are built once and hold their parameters as leaf tensors that require grad; the
// forward functions are plain C++ methods of each subclass (no virtual forward: the arguments
// differ per module).
//
// Hooks, for people who study training internals: a forward hook sees every module output as it
// is computed; a backward hook sees the gradient of every module output during Backward. Both are
// registered on a module and fire for it and all modules below it, with the module's full name.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "tensor/tensor.h"

namespace kiln::nn {

class Module;

// `name` is the module's full dotted path from the root ("" for the root itself).
using ForwardHook =
    std::function<void(const std::string& name, const Module& module, const Tensor& output)>;
using BackwardHook =
    std::function<void(const std::string& name, const Module& module, const Tensor& grad_output)>;

class Module {
 public:
  explicit Module(std::string type) : type_(std::move(type)) {}
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  const std::string& type() const { return type_; }  // "Linear", "Block", ...
  std::string FullName() const;                      // dotted path from the root

  // Parameters of this module and all below it, in registration order (depth first), each once
  // (a tied parameter is listed under its first name only).
  std::vector<std::pair<std::string, Tensor>> NamedParameters() const;
  std::vector<Tensor> Parameters() const;
  int64_t NumParameters() const;
  // This module and all below it, depth first, with full names.
  std::vector<std::pair<std::string, const Module*>> NamedModules() const;
  const std::vector<std::pair<std::string, Module*>>& children() const { return children_; }

  // name -> parameter (the live tensors, no copy). Tied parameters appear under every name.
  std::map<std::string, Tensor> StateDict() const;
  // Copies values into the parameters. Strict: a missing or unexpected name, or a shape that
  // differs, is an error naming the tensor (and `where`), and then nothing is changed. Tensors of
  // another float dtype (f16, bf16, f64) are converted to the parameter's dtype.
  absl::Status LoadStateDict(const std::map<std::string, Tensor>& state, const std::string& where);

  void SetTraining(bool on);  // this module and all below it
  // Moves every parameter (tied ones once) to `device` in place: each parameter's storage is
  // replaced by a contiguous copy there, so every handle to it (modules, tied names, optimizer
  // groups made earlier) sees the move. Gradients are dropped. Same device: nothing happens.
  void To(Device device);
  // The device of the parameters (CPU for a module without any).
  Device device() const;
  bool training() const { return training_; }

  int AddForwardHook(ForwardHook hook);
  int AddBackwardHook(BackwardHook hook);
  void RemoveHook(int handle);  // either kind; unknown handles are ignored
  // Whether a hook on this module or one above it would see this module's output (fused paths
  // that bypass a module's Forward fall back to it then).
  bool Hooked() const;

 protected:
  // Registers a parameter (made a leaf that requires grad) under `name`; returns the live tensor.
  Tensor RegisterParameter(const std::string& name, Tensor value);
  // Registers an existing parameter of another module under a second name (tied weights).
  void RegisterTied(const std::string& name, const Tensor& param);
  template <typename M>
  M* RegisterModule(const std::string& name, std::unique_ptr<M> module) {
    M* raw = module.get();
    AdoptChild(name, std::move(module));
    return raw;
  }
  // Every forward passes its result through here so hooks see it. Returns `output`.
  Tensor Output(const Tensor& output) const;

 private:
  void AdoptChild(const std::string& name, std::unique_ptr<Module> child);
  void CollectParams(const std::string& prefix, bool with_tied,
                     std::vector<std::pair<std::string, Tensor>>& out) const;

  struct Hooks {
    std::vector<std::pair<int, ForwardHook>> forward;
    std::vector<std::pair<int, BackwardHook>> backward;
  };

  std::string type_;
  std::string local_name_;
  Module* parent_ = nullptr;
  bool training_ = true;
  std::vector<std::pair<std::string, Tensor>> params_;
  std::vector<std::pair<std::string, Tensor>> tied_;
  std::vector<std::pair<std::string, Module*>> children_;
  std::vector<std::unique_ptr<Module>> owned_;
  std::shared_ptr<Hooks> hooks_ = std::make_shared<Hooks>();
  int next_hook_ = 1;
};

}  // namespace kiln::nn
