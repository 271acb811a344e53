// kiln's plain ops: check the arguments, infer the output, dispatch to the tensor's backend. No
// autograd here (the differentiable versions with the same names live in autograd/api.h, in
// namespace kiln). Shapes use B batch, T time, C channels, V vocab, NH heads, HS head size.
// Every caller mistake throws kiln::Error naming the op, what was expected and what was given.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "tensor/tensor.h"

namespace kiln::ops {

// ---- Views (share storage) and data movement --------------------------------------------------
// A view with a new shape (one dim may be -1); throws if the strides cannot express it.
Tensor View(const Tensor& x, const Shape& shape);
// Like View, but copies (Contiguous) when a view is impossible.
Tensor Reshape(const Tensor& x, const Shape& shape);
Tensor Permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor Transpose(const Tensor& x, int64_t dim0, int64_t dim1);
Tensor Narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
// Broadcast to `shape` (size -1 keeps a dim) with stride 0 on the expanded dims.
Tensor Expand(const Tensor& x, const Shape& shape);
Tensor Squeeze(const Tensor& x, int64_t dim);
Tensor Unsqueeze(const Tensor& x, int64_t dim);
Tensor Contiguous(const Tensor& x);  // x itself when already contiguous
Tensor Cast(const Tensor& x, DType dtype);
Tensor Concat(const std::vector<Tensor>& xs, int64_t dim);
// Copies src into the view dst (same shape, dtype and device) with the device's strided-copy
// kernel (the Concat row's), and bumps dst's version. Not differentiable.
void CopyInto(const Tensor& dst, const Tensor& src);
std::vector<Tensor> Split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim);
// The slices x.select(dim, i), i < x.shape()[dim], as views (dim removed).
std::vector<Tensor> Unbind(const Tensor& x, int64_t dim);

// ---- Unary elementwise (f32 / f64) -------------------------------------------------------------
Tensor Neg(const Tensor& x);
Tensor Exp(const Tensor& x);
Tensor Log(const Tensor& x);
Tensor Sqrt(const Tensor& x);
Tensor Rsqrt(const Tensor& x);
Tensor Tanh(const Tensor& x);
Tensor Sigmoid(const Tensor& x);
Tensor Relu(const Tensor& x);
Tensor Gelu(const Tensor& x);  // tanh approximation (GPT-2)
Tensor Silu(const Tensor& x);
Tensor AddScalar(const Tensor& x, double s);
Tensor MulScalar(const Tensor& x, double s);
// grad_x of the unary op `op` (one of the rows above) from x, its output y and grad_y.
Tensor UnaryBackward(int op, const Tensor& x, const Tensor& y, const Tensor& grad_y);

// ---- Binary elementwise with broadcasting ------------------------------------------------------
Tensor Add(const Tensor& a, const Tensor& b);
Tensor Sub(const Tensor& a, const Tensor& b);
Tensor Mul(const Tensor& a, const Tensor& b);
Tensor Div(const Tensor& a, const Tensor& b);
Tensor Maximum(const Tensor& a, const Tensor& b);
// Gradients of Maximum: ties send half of grad to each side (PyTorch's rule). Shapes of the
// broadcast output; the caller reduces to a's and b's shapes.
std::vector<Tensor> MaximumBackward(const Tensor& a, const Tensor& b, const Tensor& grad);
// cond ? a : b, with broadcasting; cond is bool or u8.
Tensor Where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor MaskedFill(const Tensor& x, const Tensor& mask, double value);
// Sums grad over the dims that broadcasting expanded, giving `shape`.
Tensor SumToShape(const Tensor& grad, const Shape& shape);

// ---- Reductions (dims empty = all dims) --------------------------------------------------------
Tensor Sum(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor Mean(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor Max(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
// grad of Max: grad split evenly among the elements equal to the max.
Tensor MaxBackward(const Tensor& x, const Tensor& out, const Tensor& grad,
                   const std::vector<int64_t>& dims, bool keepdim);
Tensor Argmax(const Tensor& x, int64_t dim, bool keepdim = false);  // i64; first max wins
Tensor Logsumexp(const Tensor& x, const std::vector<int64_t>& dims = {}, bool keepdim = false);
Tensor Softmax(const Tensor& x, int64_t dim = -1);
Tensor LogSoftmax(const Tensor& x, int64_t dim = -1);

// ---- Linear algebra ----------------------------------------------------------------------------
// a (..., M, K) [or (..., K, M) if trans_a] @ b (..., K, N) [or (..., N, K) if trans_b]. Batch
// dims must match, or b may be 2-D (shared weight). Each output element is one FMA chain over K
// in order, so a row's bits do not depend on M, N or the batch.
// stable_b: b is a weight that later calls read again unchanged unless its storage version moves
// (the autograd layer says so for parameters read without autograd); a backend may then keep data
// derived from it (the CPU keeps pre-packed GEMM panels: ops/weight_hint.h). Same bits either way.
Tensor Matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false,
              bool stable_b = false);
// x (N, K), weight (M, K), bias (M) or undefined -> x weight^T + bias (N, M); the bias is folded
// into the GEMM (each element's FMA chain starts from it). stable_weight: as Matmul's stable_b.
Tensor Linear(const Tensor& x, const Tensor& weight, const Tensor& bias,
              bool stable_weight = false);
// grad (N, M) -> its column sums (M), the gradient of a broadcast bias, in fixed row chunks.
Tensor BiasGrad(const Tensor& grad);

// ---- Transformer layers ------------------------------------------------------------------------
// x (..., C), weight / bias (C) -> {y (..., C), mean (rows), rstd (rows)}. bias may be undefined.
std::vector<Tensor> LayerNorm(const Tensor& x, const Tensor& weight, const Tensor& bias, double eps);
// -> {grad_x, grad_weight, grad_bias}
std::vector<Tensor> LayerNormBackward(const Tensor& x, const Tensor& weight, const Tensor& mean,
                                      const Tensor& rstd, const Tensor& grad_y);
// x (..., C), weight (C) -> {y, rstd (rows)}
std::vector<Tensor> RmsNorm(const Tensor& x, const Tensor& weight, double eps);
std::vector<Tensor> RmsNormBackward(const Tensor& x, const Tensor& weight, const Tensor& rstd,
                                    const Tensor& grad_y);  // -> {grad_x, grad_weight}
// Residual add fused with the norm: x, residual (..., C) -> {y = LayerNorm(x + residual),
// h = x + residual, mean, rstd} / {y = RmsNorm(x + residual), h, rstd}.
std::vector<Tensor> AddLayerNorm(const Tensor& x, const Tensor& residual, const Tensor& weight,
                                 const Tensor& bias, double eps);
std::vector<Tensor> AddRmsNorm(const Tensor& x, const Tensor& residual, const Tensor& weight,
                               double eps);
// Shared checks of the two (x and residual of one shape, weight / bias (C)).
void CheckResidualNorm(const Tensor& x, const Tensor& residual, const Tensor& weight,
                       const Tensor& bias, const char* op);
// gate, up (same shape) -> silu(gate) * up; backward -> {grad_gate, grad_up}.
Tensor Swiglu(const Tensor& gate, const Tensor& up);
std::vector<Tensor> SwigluBackward(const Tensor& gate, const Tensor& up, const Tensor& grad);
// weight (V, C), ids (...) i32/i64 -> (..., C). Ids outside [0, V) throw.
Tensor Embedding(const Tensor& weight, const Tensor& ids);
// grad_weight (V, C): a deterministic scatter-add (each row sums its tokens in order).
Tensor EmbeddingBackward(const Tensor& ids, const Tensor& grad, int64_t vocab);
// x (B, T, NH, HS) (any strides with HS contiguous), positions (B, T) i32/i64 -> same shape,
// rotate-half layout as Hugging Face Llama, angle = position * theta^(-2i/HS). inverse=true
// rotates by the negative angle (the backward).
Tensor Rope(const Tensor& x, const Tensor& positions, double theta, bool inverse = false);
// logits (N, V), targets (N) i32/i64 -> {loss (N) (0 where target == ignore_index), lse (N)}.
std::vector<Tensor> CrossEntropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index,
                                 double label_smoothing);
Tensor CrossEntropyBackward(const Tensor& logits, const Tensor& targets, const Tensor& lse,
                            const Tensor& grad_loss, int64_t ignore_index, double label_smoothing);
// The LM head fused with CrossEntropy: hidden (N, C), weight (V, C), targets (N) -> {loss (N),
// lse (N)} of CrossEntropy(hidden weight^T, targets), without materializing the (N, V) logits.
std::vector<Tensor> LinearCrossEntropy(const Tensor& hidden, const Tensor& weight,
                                       const Tensor& targets, int64_t ignore_index,
                                       double label_smoothing);
// -> {grad_hidden (N, C), grad_weight (V, C)}
std::vector<Tensor> LinearCrossEntropyBackward(const Tensor& hidden, const Tensor& weight,
                                               const Tensor& targets, const Tensor& lse,
                                               const Tensor& grad_loss, int64_t ignore_index,
                                               double label_smoothing);
// Causal attention. q (B, NH, Tq, HS), k / v (B, NKV, Tk, HS) (any strides with HS contiguous),
// doc_ids (B, Tk) i32 or undefined -> {out (B, NH, Tq, HS), lse (B, NH, Tq)}. Query i is at
// position Tk - Tq + i and sees keys at positions <= its own, of its own document.
std::vector<Tensor> Attention(const Tensor& q, const Tensor& k, const Tensor& v,
                              const Tensor& doc_ids, double scale);
// -> {grad_q, grad_k, grad_v}
std::vector<Tensor> AttentionBackward(const Tensor& q, const Tensor& k, const Tensor& v,
                                      const Tensor& doc_ids, const Tensor& out, const Tensor& lse,
                                      const Tensor& grad_out, double scale);
// torch.gather: out[i][j] = x[index[i][j]][j] for dim 0, etc. index i32/i64, same ndim as x.
Tensor Gather(const Tensor& x, int64_t dim, const Tensor& index);
Tensor GatherBackward(const Tensor& index, const Tensor& grad, int64_t dim, const Shape& x_shape);
// Zeroes each element with probability p (element i keeps iff Philox(seed, offset + i) says so)
// and scales the rest by 1 / (1 - p). The same (seed, offset) applied to a gradient is the
// backward.
Tensor Dropout(const Tensor& x, double p, uint64_t seed, uint64_t offset);

// ---- Optimizer updates (in place) --------------------------------------------------------------
struct AdamWConfig {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.01;
};
// PyTorch's AdamW: p -= lr * wd * p; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
// p -= lr * (m / (1 - b1^step)) / (sqrt(v / (1 - b2^step)) + eps). step counts from 1.
void AdamW(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v, int64_t step,
           const AdamWConfig& config);

}  // namespace kiln::ops
