// Training internals for people who study how a model learns: activation statistics of every
// module output (through nn::Module forward hooks, and the norm of each output's gradient through
// backward hooks), and per-layer weight, gradient and update norms. Every statistic is summed in
// double in element order on one thread, so it has the same bits on every run and thread count.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "base/json.h"
#include "nn/module.h"
#include "tensor/tensor.h"

namespace kiln::train {

struct TensorStats {
  int64_t n = 0;
  double mean = 0, std = 0, max_abs = 0, zero_frac = 0, rms = 0;
  Json ToJson() const;
};
// Population statistics of a float tensor (any strides); an empty tensor gives all zeros.
TensorStats ComputeStats(const Tensor& t);
// sqrt(sum of squares) in double.
double L2Norm(const Tensor& t);

// The layer a parameter belongs to: "h.3.attn.c_attn.weight" -> "h.3",
// "model.layers.2.mlp.up_proj.weight" -> "model.layers.2", "wte.weight" -> "wte",
// "model.norm.weight" -> "model.norm", "lm_head.weight" -> "lm_head".
std::string LayerOf(const std::string& param_name);

// Records statistics of every module output below `root` while enabled: forward outputs (mean,
// std, max abs, share of exact zeros) and, for outputs that are part of the graph, the L2 norm of
// their gradient when Backward reaches them. Hooks stay registered for the recorder's lifetime.
class ActivationRecorder {
 public:
  explicit ActivationRecorder(nn::Module& root);
  ~ActivationRecorder();
  ActivationRecorder(const ActivationRecorder&) = delete;
  ActivationRecorder& operator=(const ActivationRecorder&) = delete;

  void SetEnabled(bool on) { enabled_ = on; }
  bool enabled() const { return enabled_; }
  void Clear();
  // {"<module name>": {"type", "n", "mean", "std", "max_abs", "zero_frac", "rms",
  //   "grad_norm"(when seen)}, ...}; the root module's output is named "(root)".
  Json ToJson() const;
  int64_t forward_calls() const { return forward_calls_; }
  int64_t backward_calls() const { return backward_calls_; }

 private:
  struct Entry {
    std::string type;
    TensorStats stats;
    bool has_grad = false;
    double grad_norm = 0;
  };
  nn::Module& root_;
  int forward_handle_ = 0, backward_handle_ = 0;
  bool enabled_ = false;
  std::map<std::string, Entry> entries_;  // first output per name while enabled
  int64_t forward_calls_ = 0, backward_calls_ = 0;
};

// Snapshot of parameter values (copies), to measure the update an optimizer step makes.
using ParamSnapshot = std::vector<std::pair<std::string, std::vector<float>>>;
ParamSnapshot SnapshotParams(const std::vector<std::pair<std::string, Tensor>>& named);

// Per-layer norms: {"<layer>": {"weight_norm", "grad_norm", "update_norm", "update_ratio",
// "params"}}, each norm the L2 norm over all of the layer's tensors together. `grads` are the
// gradients the step used, before clipping (same order as `named`; an undefined grad counts 0);
// `before` the snapshot taken before the step (empty: no update norms); `named` the params after.
Json LayerNorms(const std::vector<std::pair<std::string, Tensor>>& named,
                const std::vector<Tensor>& grads, const ParamSnapshot& before);

}  // namespace kiln::train
