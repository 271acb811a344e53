// CUDA kernels of the runtime's integer casts (i32 <-> i64; cuda/runtime/index_cast.h), used by
// the kernel table to hand i32 ids, positions and targets to launchers that take i64 indices, and
// by the Cast row. Exact: a widening is lossless, a narrowing saturates like cpu/cast.cc.
#include "cuda/elementwise.cuh"
#include "cuda/kernels.h"
#include "cuda/runtime/index_cast.h"

namespace kiln::KILN_CUDA_NS {
namespace {

__global__ void WidenKernel(int64_t* __restrict__ y, const int32_t* __restrict__ x, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    y[i] = x[i];
  }
}

__global__ void NarrowKernel(int32_t* __restrict__ y, const int64_t* __restrict__ x, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    const int64_t v = x[i];
    y[i] = v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : static_cast<int32_t>(v);
  }
}

}  // namespace

void WidenI32(int64_t* y, const int32_t* x, int64_t n, Stream stream) {
  KILN_CHECK(n >= 0) << "cuda WidenI32: negative size " << n;
  if (n == 0) return;
  KILN_LAUNCH(WidenKernel, dim3(ElementwiseBlocks(n * 4)), dim3(kElementwiseThreads), 0, stream,
              y, x, n);
}

void NarrowI64(int32_t* y, const int64_t* x, int64_t n, Stream stream) {
  KILN_CHECK(n >= 0) << "cuda NarrowI64: negative size " << n;
  if (n == 0) return;
  KILN_LAUNCH(NarrowKernel, dim3(ElementwiseBlocks(n * 4)), dim3(kElementwiseThreads), 0, stream,
              y, x, n);
}

}  // namespace kiln::KILN_CUDA_NS
