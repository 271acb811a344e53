// CUDA kernel of the fused AdamW step, in place and elementwise, with the arithmetic of
// cpu/adamw.cc operation by operation (torch.optim.AdamW's single-tensor path, scalars rounded to
// float on the host in double as the CPU kernel does), so with nvcc's --fmad=false it gives the
// CPU's bits.
#include "cuda/elementwise.cuh"
#include "cuda/kernels.h"

namespace kiln::KILN_CUDA_NS {
namespace {

struct AdamWScalars {
  float decay, w, one_minus_w, beta2, c2, eps, neg_step_size, bc2_sqrt;
  int do_decay, lerp_low;
};

__global__ void AdamWKernel(float* __restrict__ p, float* __restrict__ m, float* __restrict__ v,
                            const float* __restrict__ g, int64_t n, AdamWScalars s) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    float pi = p[i];
    if (s.do_decay) pi = pi * s.decay;
    const float gi = g[i];
    const float mi = s.lerp_low ? m[i] + s.w * (gi - m[i]) : gi - (gi - m[i]) * s.one_minus_w;
    const float vi = v[i] * s.beta2 + (s.c2 * gi) * gi;
    const float denom = sqrtf(vi) / s.bc2_sqrt + s.eps;
    p[i] = pi + (s.neg_step_size * mi) / denom;
    m[i] = mi;
    v[i] = vi;
  }
}

}  // namespace

void AdamW(float* param, float* m, float* v, const float* grad, int64_t n, double lr, double beta1,
           double beta2, double eps, double weight_decay, double step_size, double bc2_sqrt,
           Stream stream) {
  KILN_CHECK(n >= 0) << "cuda AdamW: negative size " << n;
  if (n == 0) return;
  AdamWScalars s;
  s.decay = static_cast<float>(1.0 - lr * weight_decay);
  s.do_decay = weight_decay != 0.0;
  s.w = static_cast<float>(1.0 - beta1);
  s.one_minus_w = 1.0f - s.w;
  s.lerp_low = (1.0 - beta1) < 0.5;
  s.beta2 = static_cast<float>(beta2);
  s.c2 = static_cast<float>(1.0 - beta2);
  s.eps = static_cast<float>(eps);
  s.neg_step_size = static_cast<float>(-step_size);
  s.bc2_sqrt = static_cast<float>(bc2_sqrt);
  KILN_LAUNCH(AdamWKernel, dim3(ElementwiseBlocks(n * 4)), dim3(kElementwiseThreads), 0, stream,
              param, m, v, grad, n, s);
}

}  // namespace kiln::KILN_CUDA_NS
