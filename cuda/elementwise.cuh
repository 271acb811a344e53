// Grid-stride elementwise kernels shared by cuda/unary.cu and cuda/binary.cu: one functor per op
// (a __device__ operator()), float4 loads and stores when every pointer is 16-byte aligned, a
// scalar tail. Each element's arithmetic is the functor's alone, so the split never changes bits.
#pragma once

#include "cuda/portable.h"

namespace kiln::KILN_CUDA_NS {
namespace {

inline constexpr int kElementwiseThreads = 256;
inline constexpr int64_t kElementwiseMaxBlocks = 4096;

__device__ __forceinline__ bool Aligned16(const void* p) {
  return (reinterpret_cast<uintptr_t>(p) & 15) == 0;
}

template <typename F>
__global__ void MapKernel(float* __restrict__ y, const float* __restrict__ x, int64_t n, F f) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t i0 = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t nv = Aligned16(x) && Aligned16(y) ? n / 4 : 0;
  for (int64_t i = i0; i < nv; i += stride) {
    float4 v = reinterpret_cast<const float4*>(x)[i];
    v.x = f(v.x);
    v.y = f(v.y);
    v.z = f(v.z);
    v.w = f(v.w);
    reinterpret_cast<float4*>(y)[i] = v;
  }
  for (int64_t i = nv * 4 + i0; i < n; i += stride) y[i] = f(x[i]);
}

template <typename F>
__global__ void ZipKernel(float* __restrict__ c, const float* __restrict__ a,
                          const float* __restrict__ b, int64_t n, F f) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  const int64_t i0 = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t nv = Aligned16(a) && Aligned16(b) && Aligned16(c) ? n / 4 : 0;
  for (int64_t i = i0; i < nv; i += stride) {
    const float4 va = reinterpret_cast<const float4*>(a)[i];
    const float4 vb = reinterpret_cast<const float4*>(b)[i];
    float4 r;
    r.x = f(va.x, vb.x);
    r.y = f(va.y, vb.y);
    r.z = f(va.z, vb.z);
    r.w = f(va.w, vb.w);
    reinterpret_cast<float4*>(c)[i] = r;
  }
  for (int64_t i = nv * 4 + i0; i < n; i += stride) c[i] = f(a[i], b[i]);
}

// out = f(x, y, g) elementwise (unary backward: x, y = op(x), grad_y).
template <typename F>
__global__ void Map3Kernel(float* __restrict__ out, const float* __restrict__ x,
                           const float* __restrict__ y, const float* __restrict__ g, int64_t n,
                           F f) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    out[i] = f(x[i], y[i], g[i]);
  }
}

inline unsigned ElementwiseBlocks(int64_t n) {
  const int64_t b = (n / 4 + kElementwiseThreads - 1) / kElementwiseThreads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > kElementwiseMaxBlocks ? kElementwiseMaxBlocks : b));
}

}  // namespace
}  // namespace kiln::KILN_CUDA_NS
