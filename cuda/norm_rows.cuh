// Block-per-row LayerNorm / RmsNorm forward math shared by cuda/layer_norm.cu, cuda/rms_norm.cu and
// the fused residual + norm kernels of cuda/add_norm.cu, so a fused kernel's y / mean / rstd have
// exactly the plain kernel's bits. Two-pass mean / variance through cuda/reduce.cuh's fixed-order
// block reduction (blockDim.x a multiple of 32; every thread of the block calls these).
#pragma once

#include "cuda/reduce.cuh"

namespace kiln::KILN_CUDA_NS {
namespace {

// y = ((x - mean) * rstd) * w (+ b) over one row x (C) read with the block's strided loop; bias may
// be null. Thread 0 writes *mean_out and *rstd_out.
__device__ __forceinline__ void LayerNormRow(float* __restrict__ yr, float* mean_out,
                                             float* rstd_out, const float* xr,
                                             const float* __restrict__ w,
                                             const float* __restrict__ b, int64_t c, float eps) {
  float s = 0.0f;
  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) s += xr[j];
  const float mean = BlockReduce(s, SumOp{}) / static_cast<float>(c);
  float q = 0.0f;
  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) {
    const float d = xr[j] - mean;
    q += d * d;
  }
  const float var = BlockReduce(q, SumOp{}) / static_cast<float>(c);
  const float rstd = 1.0f / sqrtf(var + eps);
  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) {
    const float v = ((xr[j] - mean) * rstd) * w[j];
    yr[j] = b != nullptr ? v + b[j] : v;
  }
  if (threadIdx.x == 0) {
    *mean_out = mean;
    *rstd_out = rstd;
  }
}

// y = (x * rstd) * w, rstd = 1 / sqrt(mean(x^2) + eps). Thread 0 writes *rstd_out.
__device__ __forceinline__ void RmsNormRow(float* __restrict__ yr, float* rstd_out, const float* xr,
                                           const float* __restrict__ w, int64_t c, float eps) {
  float s = 0.0f;
  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) s += xr[j] * xr[j];
  const float ms = BlockReduce(s, SumOp{}) / static_cast<float>(c);
  const float rstd = 1.0f / sqrtf(ms + eps);
  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) yr[j] = (xr[j] * rstd) * w[j];
  if (threadIdx.x == 0) *rstd_out = rstd;
}

}  // namespace
}  // namespace kiln::KILN_CUDA_NS
