// CUDA kernel of the Where row on same-shape contiguous operands: out = cond ? a : b, cond bytes
// (bool / u8), a, b and out f32. A pure selection: bitwise the CPU's.
#include "cuda/elementwise.cuh"
#include "cuda/kernels.h"

namespace kiln::KILN_CUDA_NS {
namespace {

__global__ void WhereKernel(float* __restrict__ out, const uint8_t* __restrict__ cond,
                            const float* __restrict__ a, const float* __restrict__ b, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    out[i] = cond[i] != 0 ? a[i] : b[i];
  }
}

}  // namespace

void Where(float* out, const uint8_t* cond, const float* a, const float* b, int64_t n,
           Stream stream) {
  KILN_CHECK(n >= 0) << "cuda Where: negative size " << n;
  if (n == 0) return;
  KILN_LAUNCH(WhereKernel, dim3(ElementwiseBlocks(n * 4)), dim3(kElementwiseThreads), 0, stream,
              out, cond, a, b, n);
}

}  // namespace kiln::KILN_CUDA_NS
