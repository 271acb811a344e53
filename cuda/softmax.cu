// CUDA kernels of the Softmax and LogSoftmax rows: one block per row of (rows, n); the row max and
// the sum of exp(x - max) come from cuda/reduce.cuh's fixed-order block reductions, so a row's
// bits depend on n only. expf / logf are CUDA's (the CPU uses kiln's kmath): agreement is to a few
// ulp. A row of all -inf gives NaN, as on the CPU.
#include "cuda/kernels.h"
#include "cuda/reduce.cuh"

namespace kiln::KILN_CUDA_NS {
namespace {

constexpr int kSoftmaxThreads = 256;

template <bool kLog>
__global__ void SoftmaxKernel(float* __restrict__ y, const float* __restrict__ x, int64_t n) {
  const int64_t base = static_cast<int64_t>(blockIdx.x) * n;
  const float* row = x + base;
  float* out = y + base;
  float m = MaxOp::Identity();
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) m = MaxOp{}(m, row[j]);
  m = BlockReduce(m, MaxOp{});
  float s = 0.0f;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) s += expf(row[j] - m);
  s = BlockReduce(s, SumOp{});
  if (kLog) {
    const float lse = logf(s);
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) out[j] = (row[j] - m) - lse;
  } else {
    for (int64_t j = threadIdx.x; j < n; j += blockDim.x) out[j] = expf(row[j] - m) / s;
  }
}

template <bool kLog>
void LaunchSoftmax(float* y, const float* x, int64_t rows, int64_t n, Stream stream) {
  KILN_CHECK(rows >= 0 && rows <= 0x7fffffff && n >= 0)
      << "cuda Softmax: rows " << rows << ", n " << n << " out of range";
  if (rows == 0 || n == 0) return;
  KILN_LAUNCH(SoftmaxKernel<kLog>, dim3(static_cast<unsigned>(rows)), dim3(kSoftmaxThreads), 0,
              stream, y, x, n);
}

}  // namespace

void Softmax(float* y, const float* x, int64_t rows, int64_t n, Stream stream) {
  LaunchSoftmax<false>(y, x, rows, n, stream);
}

void LogSoftmax(float* y, const float* x, int64_t rows, int64_t n, Stream stream) {
  LaunchSoftmax<true>(y, x, rows, n, stream);
}

}  // namespace kiln::KILN_CUDA_NS
