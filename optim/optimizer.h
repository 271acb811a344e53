// Optimizer base class and parameter groups. An optimizer keeps per-parameter state (moment
// buffers, step counts) keyed by parameter name, and exports it as named tensors plus a small
// JSON, so a checkpoint can restore it and a resumed run continues with the same bits.
// Subclasses (SGD, AdamW) only say which buffers they keep and how one parameter is updated.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "base/json.h"
#include "tensor/tensor.h"

namespace kiln::optim {

// Parameters that share hyperparameters.
struct ParamGroup {
  std::vector<Tensor> params;
  // One name per param (state tensors are saved as "<name>.<buffer>"), or empty: the param is
  // then named by its index over all groups in order ("0", "1", ...).
  std::vector<std::string> names;
  double lr_scale = 1.0;               // this group's lr = optimizer lr * lr_scale
  std::optional<double> weight_decay;  // unset: the optimizer config's weight_decay
};

struct DecaySplitOptions {
  // false: params whose name contains one of embedding_markers get no weight decay either.
  bool decay_embeddings = true;
  std::vector<std::string> embedding_markers = {"embed", "wte", "wpe"};
};

// Splits named parameters into {decay group (weight_decay unset: the optimizer's), no-decay group
// (weight_decay 0)}, each in input order. Tensors with dim() <= 1 (norm weights, biases) never
// decay, as in nanoGPT / Hugging Face; decay on a gain pulls it to 0, not to its identity value.
std::vector<ParamGroup> SplitDecayGroups(const std::vector<std::pair<std::string, Tensor>>& named,
                                         const DecaySplitOptions& options = {});

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every param that has a grad (params whose .grad() is undefined are skipped and
  // their step count does not advance, as in PyTorch). Uses plain ops: records no graph. A param
  // updated here bumps its version, so a graph that saved it cannot be backpropagated after.
  void Step();
  // Sets every param's grad to undefined (PyTorch's set_to_none=True): the next Backward starts
  // from nothing instead of adding to stale gradients.
  void ZeroGrad();
  void SetLr(double lr);
  double lr() const { return lr_; }
  int64_t step_count() const { return step_count_; }  // Step() calls so far
  const std::vector<ParamGroup>& groups() const { return groups_; }
  std::vector<Tensor> Params() const;    // all params, groups in order
  virtual const char* Name() const = 0;  // "sgd", "adamw": checked on LoadState

  // State as tensors named "<param name>.<buffer>" (e.g. "h.0.attn.w.exp_avg", "3.exp_avg_sq",
  // "0.momentum_buffer"). The tensors are the live buffers (no copy): save them before the next
  // Step(). Params never updated have no entries.
  std::map<std::string, Tensor> StateTensors() const;
  // {"optimizer": Name(), "step": step_count, "lr": lr, "params": {"<name>": {"step": k}, ...}}.
  // Doubles print with round-trip precision, so lr comes back with the same bits.
  Json StateJson() const;
  // Restores what StateTensors() + StateJson() exported, copying the tensors (so the source may be
  // freed or reused). Fails, changing nothing, on another optimizer's state, an unknown param
  // name, a missing or extra tensor, or a shape / dtype that differs from the param's; the
  // message names the field and the value.
  absl::Status LoadState(const std::map<std::string, Tensor>& tensors, const Json& json);

 protected:
  Optimizer(std::vector<ParamGroup> groups, double lr, double default_weight_decay);

  struct ParamState {
    int64_t step = 0;             // updates this param has had, counted from 1 at its first
    std::vector<Tensor> buffers;  // in BufferNames() order; empty before the first update
  };
  virtual std::vector<std::string> BufferNames() const = 0;
  // One update of `param` (contiguous) with `grad` (same shape and dtype); state.step has
  // already been incremented. lr and weight_decay are the group's.
  virtual void Update(const Tensor& param, const Tensor& grad, double lr, double weight_decay,
                      ParamState& state) = 0;

 private:
  struct Slot {
    Tensor param;
    std::string name;
    size_t group;
  };
  std::vector<ParamGroup> groups_;
  std::vector<Slot> slots_;  // flat, groups in order
  std::vector<ParamState> states_;
  double lr_;
  int64_t step_count_ = 0;
};

}  // namespace kiln::optim
