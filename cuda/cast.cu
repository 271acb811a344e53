// CUDA kernels of the Cast row between f32 and the 16-bit float formats (bf16, f16) on contiguous
// arrays, through CUDA's round-to-nearest-even conversions (__float2bfloat16 / __float2half; in
// the interpreter kiln's own, tensor/half.h). Integer and f64 casts are pending.
#include "cuda/elementwise.cuh"
#include "cuda/kernels.h"

namespace kiln::KILN_CUDA_NS {
namespace {

template <typename From, typename To, typename F>
__global__ void CastKernel(To* __restrict__ y, const From* __restrict__ x, int64_t n, F f) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    y[i] = f(x[i]);
  }
}

struct ToBf16 {
  __device__ __nv_bfloat16 operator()(float v) const { return __float2bfloat16(v); }
};
struct FromBf16 {
  __device__ float operator()(__nv_bfloat16 v) const { return __bfloat162float(v); }
};
struct ToHalf {
  __device__ __half operator()(float v) const { return __float2half(v); }
};
struct FromHalf {
  __device__ float operator()(__half v) const { return __half2float(v); }
};

template <typename From, typename To, typename F>
void LaunchCast(void* y, const void* x, int64_t n, Stream stream) {
  constexpr auto kernel = CastKernel<From, To, F>;
  KILN_LAUNCH(kernel, dim3(ElementwiseBlocks(n * 4)), dim3(kElementwiseThreads), 0, stream,
              static_cast<To*>(y), static_cast<const From*>(x), n, F{});
}

}  // namespace

void CastF32To16(void* y, const float* x, int64_t n, bool bf16, Stream stream) {
  KILN_CHECK(n >= 0) << "cuda Cast: negative size " << n;
  if (n == 0) return;
  if (bf16) {
    LaunchCast<float, __nv_bfloat16, ToBf16>(y, x, n, stream);
  } else {
    LaunchCast<float, __half, ToHalf>(y, x, n, stream);
  }
}

void Cast16ToF32(float* y, const void* x, int64_t n, bool bf16, Stream stream) {
  KILN_CHECK(n >= 0) << "cuda Cast: negative size " << n;
  if (n == 0) return;
  if (bf16) {
    LaunchCast<__nv_bfloat16, float, FromBf16>(y, x, n, stream);
  } else {
    LaunchCast<__half, float, FromHalf>(y, x, n, stream);
  }
}

}  // namespace kiln::KILN_CUDA_NS
