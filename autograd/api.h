// kiln's differentiable ops: the same names and arguments as the plain ops in ops/api.h, each a
// plain op call recorded into the autograd graph. This is the API models and trainers use.
#pragma once

#include <utility>
#include <vector>

#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "ops/api.h"
#include "tensor/tensor.h"

namespace kiln {

using ops::AdamWConfig;

// Views and data movement.
Tensor View(const Tensor& x, const Shape& shape);
Tensor Reshape(const Tensor& x, const Shape& shape);
Tensor Permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor Transpose(const Tensor& x, int64_t dim0, int64_t dim1);
Tensor Narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
Tensor Expand(const Tensor& x, const Shape& shape);
Tensor Squeeze(const Tensor& x, int64_t dim);
Tensor Unsqueeze(const Tensor& x, int64_t dim);
Tensor Contiguous(const Tensor& x);
Tensor Cast(const Tensor& x, DType dtype);
Tensor Concat(const std::vector<Tensor>& xs, int64_t dim);
std::vector<Tensor> Split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim);
// x.select(dim, i) for every i, as views; the backward writes all gradients into one tensor.
std::vector<Tensor> Unbind(const Tensor& x, int64_t dim);

// Unary.
Tensor Neg(const Tensor& x);
Tensor Exp(const Tensor& x);
Tensor Log(const Tensor& x);
Tensor Sqrt(const Tensor& x);
Tensor Rsqrt(const Tensor& x);
Tensor Tanh(const Tensor& x);
Tensor Sigmoid(const Tensor& x);
Tensor Relu(const Tensor& x);
Tensor Gelu(const Tensor& x);
Tensor Silu(const Tensor& x);
Tensor AddScalar(const Tensor& x, double s);
Tensor MulScalar(const Tensor& x, double s);

// Binary (broadcasting).
Tensor Add(const Tensor& a, const Tensor& b);
Tensor Sub(const Tensor& a, const Tensor& b);
Tensor Mul(const Tensor& a, const Tensor& b);
Tensor Div(const Tensor& a, const Tensor& b);
Tensor Maximum(const Tensor& a, const Tensor& b);
Tensor Where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor MaskedFill(const Tensor& x, const Tensor& mask, double value);

// Reductions.
Tensor Sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor Mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor Max(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor Argmax(const Tensor& x, int64_t dim, bool keepdim = false);  // not differentiable
Tensor Logsumexp(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor Softmax(const Tensor& x, int64_t dim = -1);
Tensor LogSoftmax(const Tensor& x, int64_t dim = -1);

// Linear algebra. Under an AutocastGuard(DType::kBF16) (autograd/grad_mode.h) Matmul, Linear and
// LinearCrossEntropy cast f32 operands to bf16 first (AutocastOperand; a bias stays f32).
Tensor AutocastOperand(const Tensor& t);
Tensor Matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);
// x (N, K), weight (M, K), bias (M) or undefined -> x weight^T + bias, the bias folded into the
// GEMM; its gradient a fixed-order column sum (BiasGrad).
Tensor Linear(const Tensor& x, const Tensor& weight, const Tensor& bias = Tensor());

// Transformer layers (differentiable output only; statistics stay internal).
Tensor LayerNorm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps = 1e-5);
Tensor RmsNorm(const Tensor& x, const Tensor& weight, double eps = 1e-6);
Tensor Embedding(const Tensor& weight, const Tensor& ids);
Tensor Rope(const Tensor& x, const Tensor& positions, double theta = 10000.0);
// Residual add fused with the norm: -> {LayerNorm(x + residual), x + residual}.
std::pair<Tensor, Tensor> AddLayerNorm(const Tensor& x, const Tensor& residual,
                                       const Tensor& weight, const Tensor& bias,
                                       double eps = 1e-5);
std::pair<Tensor, Tensor> AddRmsNorm(const Tensor& x, const Tensor& residual,
                                     const Tensor& weight, double eps = 1e-6);
// silu(gate) * up in one pass (Llama's MLP).
Tensor Swiglu(const Tensor& gate, const Tensor& up);
// Per-row losses (N), 0 where target == ignore_index.
Tensor CrossEntropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index = -100,
                    double label_smoothing = 0.0);
// CrossEntropy(Matmul(hidden, weight, false, true), targets) for hidden (N, C), weight (V, C),
// computed in tiles: neither the (N, V) logits nor their gradient is ever materialized.
Tensor LinearCrossEntropy(const Tensor& hidden, const Tensor& weight, const Tensor& targets,
                          int64_t ignore_index = -100, double label_smoothing = 0.0);
Tensor Attention(const Tensor& q, const Tensor& k, const Tensor& v,
                 const Tensor& doc_ids = Tensor(), double scale = -1.0);  // -1: 1/sqrt(HS)
Tensor Gather(const Tensor& x, int64_t dim, const Tensor& index);
Tensor Dropout(const Tensor& x, double p, uint64_t seed, uint64_t offset);

// Operators for readable model code.
inline Tensor operator+(const Tensor& a, const Tensor& b) { return Add(a, b); }
inline Tensor operator-(const Tensor& a, const Tensor& b) { return Sub(a, b); }
inline Tensor operator*(const Tensor& a, const Tensor& b) { return Mul(a, b); }
inline Tensor operator/(const Tensor& a, const Tensor& b) { return Div(a, b); }
inline Tensor operator-(const Tensor& a) { return Neg(a); }

}  // namespace kiln
