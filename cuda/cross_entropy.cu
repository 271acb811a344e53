// CUDA kernels of the fused softmax-cross-entropy and its backward over (N, V) logits, with
// ignore_index and label smoothing ls (the formulas of cpu/cross_entropy.cc):
//   lse_i = m + log(sum_j exp(x_ij - m)),  loss_i = lse_i - (1 - ls) x_{i,t_i} - ls/V sum_j x_ij
//   grad_ij = g_i (exp(x_ij - lse_i) - ls/V - (1 - ls) [j == t_i])
// One block per row; sums through cuda/reduce.cuh (fixed order: a row's bits do not depend on N).
// Targets are int64 and must lie in [0, V) or equal ignore_index (the op layer checks).
#include "cuda/kernels.h"
#include "cuda/reduce.cuh"

namespace kiln::KILN_CUDA_NS {
namespace {

constexpr int kThreads = 256;

__global__ void CrossEntropyForward(float* __restrict__ loss, float* __restrict__ lse_out,
                                    const float* __restrict__ logits,
                                    const int64_t* __restrict__ targets, int64_t v,
                                    int64_t ignore, float keep, float spread, int smoothing) {
  const int64_t i = blockIdx.x;
  const float* x = logits + i * v;
  float m = MaxOp::Identity();
  for (int64_t j = threadIdx.x; j < v; j += blockDim.x) m = MaxOp{}(m, x[j]);
  m = BlockReduce(m, MaxOp{});
  float lse = m;
  if (m - m == 0.0f) {  // finite max; all -inf or a NaN leave lse = m
    float s = 0.0f;
    for (int64_t j = threadIdx.x; j < v; j += blockDim.x) s += expf(x[j] - m);
    lse = m + logf(BlockReduce(s, SumOp{}));
  }
  float total = 0.0f;
  if (smoothing) {
    for (int64_t j = threadIdx.x; j < v; j += blockDim.x) total += x[j];
    total = BlockReduce(total, SumOp{});
  }
  if (threadIdx.x != 0) return;
  lse_out[i] = lse;
  const int64_t t = targets[i];
  if (t == ignore) {
    loss[i] = 0.0f;
    return;
  }
  float l = lse - keep * x[t];
  if (smoothing) l = l - spread * total;
  loss[i] = l;
}

__global__ void CrossEntropyBackwardKernel(float* __restrict__ gx, const float* __restrict__ logits,
                                           const int64_t* __restrict__ targets,
                                           const float* __restrict__ lse,
                                           const float* __restrict__ g, int64_t v, int64_t ignore,
                                           float keep, float spread, int smoothing) {
  const int64_t i = blockIdx.x;
  const float* x = logits + i * v;
  float* out = gx + i * v;
  const int64_t t = targets[i];
  if (t == ignore) {
    for (int64_t j = threadIdx.x; j < v; j += blockDim.x) out[j] = 0.0f;
    return;
  }
  const float gi = g[i], l = lse[i];
  for (int64_t j = threadIdx.x; j < v; j += blockDim.x) {
    float d = expf(x[j] - l);
    if (smoothing) d = d - spread;
    if (j == t) d = d - keep;
    out[j] = gi * d;
  }
}

}  // namespace

void CrossEntropy(float* loss, float* lse, const float* logits, const int64_t* targets, int64_t n,
                  int64_t v, int64_t ignore_index, float label_smoothing, Stream stream) {
  KILN_CHECK(n >= 0 && n <= 0x7fffffff && v > 0)
      << "cuda CrossEntropy: N " << n << ", V " << v << " out of range";
  if (n == 0) return;
  const double ls = label_smoothing;
  KILN_LAUNCH(CrossEntropyForward, dim3(static_cast<unsigned>(n)), dim3(kThreads), 0, stream, loss,
              lse, logits, targets, v, ignore_index, static_cast<float>(1.0 - ls),
              static_cast<float>(ls / static_cast<double>(v)), ls != 0.0 ? 1 : 0);
}

void CrossEntropyBackward(float* grad_logits, const float* logits, const int64_t* targets,
                          const float* lse, const float* grad_loss, int64_t n, int64_t v,
                          int64_t ignore_index, float label_smoothing, Stream stream) {
  KILN_CHECK(n >= 0 && n <= 0x7fffffff && v > 0)
      << "cuda CrossEntropyBackward: N " << n << ", V " << v << " out of range";
  if (n == 0) return;
  const double ls = label_smoothing;
  KILN_LAUNCH(CrossEntropyBackwardKernel, dim3(static_cast<unsigned>(n)), dim3(kThreads), 0,
              stream, grad_logits, logits, targets, lse, grad_loss, v, ignore_index,
              static_cast<float>(1.0 - ls), static_cast<float>(ls / static_cast<double>(v)),
              ls != 0.0 ? 1 : 0);
}

}  // namespace kiln::KILN_CUDA_NS
