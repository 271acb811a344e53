// CUDA kernel of the Sum and Mean rows: one block per row of a (rows, n) matrix, each thread
// summing its strided elements in order, then cuda/reduce.cuh's fixed-order block reduction. A
// row's bits depend on n only, not on rows (batch invariant); the order differs from the CPU's
// (cpu/reduce.h), so the two agree to rounding, not bitwise.
#include "cuda/kernels.h"
#include "cuda/reduce.cuh"

namespace kiln::KILN_CUDA_NS {
namespace {

constexpr int kSumThreads = 256;

__global__ void SumRowsKernel(float* __restrict__ out, const float* __restrict__ x, int64_t n,
                              float divisor) {
  const float* row = x + static_cast<int64_t>(blockIdx.x) * n;
  float acc = 0.0f;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) acc += row[j];
  acc = BlockReduce(acc, SumOp{});
  if (threadIdx.x == 0) out[blockIdx.x] = acc / divisor;
}

}  // namespace

void SumRows(float* out, const float* x, int64_t rows, int64_t n, float divisor, Stream stream) {
  KILN_CHECK(rows >= 0 && rows <= 0x7fffffff && n >= 0)
      << "cuda SumRows: rows " << rows << ", n " << n << " out of range";
  if (rows == 0) return;
  KILN_LAUNCH(SumRowsKernel, dim3(static_cast<unsigned>(rows)), dim3(kSumThreads), 0, stream, out,
              x, n, divisor);
}

}  // namespace kiln::KILN_CUDA_NS
