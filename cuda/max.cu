// CUDA kernels of the row reductions Max, MaxBackward, Argmax and Logsumexp over (rows, n), one
// block per row. A max is exact in any order; ties in MaxBackward share the gradient evenly (the
// count is exact); Argmax takes the first index of the maximum with the first NaN winning (each
// thread scans its strided elements in order, then thread 0 merges the candidates in thread
// order); Logsumexp sums through cuda/reduce.cuh in a fixed order, to rounding of the CPU's.
#include "cuda/kernels.h"
#include "cuda/reduce.cuh"

namespace kiln::KILN_CUDA_NS {
namespace {

constexpr int kThreads = 256;

__global__ void MaxRowsKernel(float* __restrict__ out, const float* __restrict__ x, int64_t n) {
  const float* row = x + static_cast<int64_t>(blockIdx.x) * n;
  float m = MaxOp::Identity();
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) m = MaxOp{}(m, row[j]);
  m = BlockReduce(m, MaxOp{});
  if (threadIdx.x == 0) out[blockIdx.x] = m;
}

__global__ void MaxBackwardKernel(float* __restrict__ gx, const float* __restrict__ x,
                                  const float* __restrict__ mx, const float* __restrict__ g,
                                  int64_t n) {
  const int64_t base = static_cast<int64_t>(blockIdx.x) * n;
  const float m = mx[blockIdx.x];
  float ties = 0.0f;  // exact: counts below 2^24
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) ties += x[base + j] == m ? 1.0f : 0.0f;
  ties = BlockReduce(ties, SumOp{});
  const float share = ties > 0.0f ? g[blockIdx.x] / ties : 0.0f;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
    gx[base + j] = x[base + j] == m ? share : 0.0f;
  }
}

// Is candidate (v, i) ahead of (bm, b)? NaN beats numbers, a larger number beats a smaller one,
// and among equals (or NaNs) the smaller index wins.
__device__ __forceinline__ bool Better(float v, int64_t i, float bm, int64_t b) {
  if (b < 0) return true;
  const bool vnan = v != v, bnan = bm != bm;
  if (vnan != bnan) return vnan;
  if (!vnan && v != bm) return v > bm;
  return i < b;
}

__global__ void ArgmaxKernel(int64_t* __restrict__ out, const float* __restrict__ x, int64_t n) {
  KILN_SHARED(float, best_v, [kThreads]);
  KILN_SHARED(int64_t, best_i, [kThreads]);
  const float* row = x + static_cast<int64_t>(blockIdx.x) * n;
  float m = 0.0f;
  int64_t bi = -1;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) {
    const float v = row[j];
    if (bi >= 0 && m != m) break;  // this thread already holds its first NaN
    if (bi < 0 || v != v || v > m) {
      m = v;
      bi = j;
    }
  }
  best_v[threadIdx.x] = m;
  best_i[threadIdx.x] = bi;
  __syncthreads();
  if (threadIdx.x != 0) return;
  float bm = 0.0f;
  int64_t b = -1;
  for (unsigned t = 0; t < blockDim.x; ++t) {
    const int64_t i = best_i[t];
    if (i < 0) continue;
    const float v = best_v[t];
    const bool take = Better(v, i, bm, b);
    if (take) {
      bm = v;
      b = i;
    }
  }
  out[blockIdx.x] = b;
}

__global__ void LogsumexpKernel(float* __restrict__ out, const float* __restrict__ x, int64_t n) {
  const float* row = x + static_cast<int64_t>(blockIdx.x) * n;
  float m = MaxOp::Identity();
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) m = MaxOp{}(m, row[j]);
  m = BlockReduce(m, MaxOp{});
  if (m - m != 0.0f) {  // -inf, +inf, NaN rows: the answer is m (the block agrees: no barrier skew)
    if (threadIdx.x == 0) out[blockIdx.x] = m;
    return;
  }
  float s = 0.0f;
  for (int64_t j = threadIdx.x; j < n; j += blockDim.x) s += expf(row[j] - m);
  s = BlockReduce(s, SumOp{});
  if (threadIdx.x == 0) out[blockIdx.x] = m + logf(s);
}

void CheckRows(const char* what, int64_t rows, int64_t n) {
  KILN_CHECK(rows >= 0 && rows <= 0x7fffffff && n > 0)
      << "cuda " << what << ": rows " << rows << ", n " << n << " out of range (n must be > 0)";
}

}  // namespace

void MaxRows(float* out, const float* x, int64_t rows, int64_t n, Stream stream) {
  CheckRows("MaxRows", rows, n);
  if (rows == 0) return;
  KILN_LAUNCH(MaxRowsKernel, dim3(static_cast<unsigned>(rows)), dim3(kThreads), 0, stream, out, x,
              n);
}

void MaxBackward(float* grad_x, const float* x, const float* max, const float* grad, int64_t rows,
                 int64_t n, Stream stream) {
  CheckRows("MaxBackward", rows, n);
  if (rows == 0) return;
  KILN_LAUNCH(MaxBackwardKernel, dim3(static_cast<unsigned>(rows)), dim3(kThreads), 0, stream,
              grad_x, x, max, grad, n);
}

void Argmax(int64_t* out, const float* x, int64_t rows, int64_t n, Stream stream) {
  CheckRows("Argmax", rows, n);
  if (rows == 0) return;
  KILN_LAUNCH(ArgmaxKernel, dim3(static_cast<unsigned>(rows)), dim3(kThreads), 0, stream, out, x,
              n);
}

void Logsumexp(float* out, const float* x, int64_t rows, int64_t n, Stream stream) {
  CheckRows("Logsumexp", rows, n);
  if (rows == 0) return;
  KILN_LAUNCH(LogsumexpKernel, dim3(static_cast<unsigned>(rows)), dim3(kThreads), 0, stream, out,
              x, n);
}

}  // namespace kiln::KILN_CUDA_NS
