// The basic layers: Linear, Embedding, LayerNorm, RMSNorm. Each holds its parameters under the
// names PyTorch uses ("weight", "bias") and is initialized to PyTorch's defaults for norms and to
// zeros for Linear / Embedding weights (models initialize those: GptModel::Init).
#pragma once

#include <cstdint>

#include "nn/module.h"

namespace kiln::nn {

// y = x W^T + b, W (out, in) as torch.nn.Linear. x (..., in) -> (..., out).
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias);
  Tensor Forward(const Tensor& x) const;
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }  // undefined without bias
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }

 private:
  int64_t in_, out_;
  Tensor weight_, bias_;
};

// ids (...) int32/int64 -> (..., dim).
class Embedding : public Module {
 public:
  Embedding(int64_t num, int64_t dim);
  Tensor Forward(const Tensor& ids) const;
  const Tensor& weight() const { return weight_; }

 private:
  Tensor weight_;
};

// Over the last dim; weight 1, bias 0 at construction.
class LayerNorm : public Module {
 public:
  LayerNorm(int64_t dim, double eps);
  Tensor Forward(const Tensor& x) const;
  const Tensor& weight() const { return weight_; }
  const Tensor& bias() const { return bias_; }
  double eps() const { return eps_; }

 private:
  double eps_;
  Tensor weight_, bias_;
};

// x * rsqrt(mean(x^2) + eps) * weight over the last dim (Llama); weight 1 at construction.
class RmsNorm : public Module {
 public:
  RmsNorm(int64_t dim, double eps);
  Tensor Forward(const Tensor& x) const;
  const Tensor& weight() const { return weight_; }
  double eps() const { return eps_; }

 private:
  double eps_;
  Tensor weight_;
};

}  // namespace kiln::nn
