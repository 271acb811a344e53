// CUDA kernel of the Dropout row: element i is kept iff the Philox draw for (seed, offset + i) is
// >= p (base/rng.h, the same code as the CPU kernel, compiled for the device too), so the mask is
// a pure function of the element's index: the same on the CPU, the interpreter and the GPU, and
// the backward re-derives it from (seed, offset).
#include "base/rng.h"
#include "cuda/elementwise.cuh"
#include "cuda/kernels.h"

namespace kiln::KILN_CUDA_NS {
namespace {

__global__ void DropoutKernel(float* __restrict__ y, const float* __restrict__ x, int64_t n,
                              uint64_t seed, uint64_t offset, double p, float scale) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    const double u = static_cast<double>(
        UniformFromBits(Philox(seed, offset + static_cast<uint64_t>(i)).v[0]));
    y[i] = u >= p ? x[i] * scale : 0.0f;
  }
}

}  // namespace

void Dropout(float* y, const float* x, int64_t n, uint64_t seed, uint64_t offset, double p,
             Stream stream) {
  KILN_CHECK(n >= 0 && p >= 0.0 && p <= 1.0) << "cuda Dropout: n " << n << ", p " << p;
  if (n == 0) return;
  const float scale = static_cast<float>(p < 1.0 ? 1.0 / (1.0 - p) : 0.0);
  KILN_LAUNCH(DropoutKernel, dim3(ElementwiseBlocks(n * 4)), dim3(kElementwiseThreads), 0, stream,
              y, x, n, seed, offset, p, scale);
}

}  // namespace kiln::KILN_CUDA_NS
