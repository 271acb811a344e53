// CUDA kernels of LayerNorm and its fused backward over the rows of (rows, C): one block per row
// for the forward (the row math is cuda/norm_rows.cuh's, shared with AddLayerNorm) and for grad_x
// (two-pass mean / variance and the two backward row means through cuda/reduce.cuh's fixed-order
// block reduction), and a deterministic weight / bias gradient without atomics: one thread per
// column adds the rows in increasing order. That keeps every bit independent of timing; its
// parallelism is only C threads (a two-stage chunked version is the planned V2, chosen by a
// benchmark).
#include "cuda/kernels.h"
#include "cuda/norm_rows.cuh"

namespace kiln::KILN_CUDA_NS {
namespace {

constexpr int kRowThreads = 256;
constexpr int kColumnThreads = 256;

__global__ void LayerNormForward(float* __restrict__ y, float* __restrict__ mean_out,
                                 float* __restrict__ rstd_out, const float* __restrict__ x,
                                 const float* __restrict__ w, const float* __restrict__ b,
                                 int64_t c, float eps) {
  const int64_t r = blockIdx.x;
  LayerNormRow(y + r * c, mean_out + r, rstd_out + r, x + r * c, w, b, c, eps);
}

// gx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = gy * w.
__global__ void LayerNormBackwardX(float* __restrict__ gx, const float* __restrict__ x,
                                   const float* __restrict__ w, const float* __restrict__ mean_in,
                                   const float* __restrict__ rstd_in, const float* __restrict__ gy,
                                   int64_t c) {
  const int64_t r = blockIdx.x;
  const float* xr = x + r * c;
  const float* gr = gy + r * c;
  const float mean = mean_in[r], rstd = rstd_in[r];
  float s1 = 0.0f, s2 = 0.0f;
  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) {
    s1 += gr[j] * w[j];
    s2 += (gr[j] * w[j]) * ((xr[j] - mean) * rstd);
  }
  const float m1 = BlockReduce(s1, SumOp{}) / static_cast<float>(c);
  const float m2 = BlockReduce(s2, SumOp{}) / static_cast<float>(c);
  float* out = gx + r * c;
  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) {
    const float xhat = (xr[j] - mean) * rstd;
    out[j] = ((gr[j] * w[j] - m1) - xhat * m2) * rstd;
  }
}

__global__ void LayerNormBackwardWeight(float* __restrict__ gw, float* __restrict__ gb,
                                        const float* __restrict__ x,
                                        const float* __restrict__ mean_in,
                                        const float* __restrict__ rstd_in,
                                        const float* __restrict__ gy, int64_t rows, int64_t c) {
  const int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= c) return;
  float aw = 0.0f, ab = 0.0f;
  for (int64_t r = 0; r < rows; ++r) {
    const float g = gy[r * c + j];
    aw += g * ((x[r * c + j] - mean_in[r]) * rstd_in[r]);
    ab += g;
  }
  if (gw != nullptr) gw[j] = aw;
  if (gb != nullptr) gb[j] = ab;
}

void CheckRows(const char* what, int64_t rows, int64_t c) {
  KILN_CHECK(rows >= 0 && rows <= 0x7fffffff && c > 0)
      << "cuda " << what << ": rows " << rows << ", C " << c << " out of range";
}

}  // namespace

void LayerNorm(float* y, float* mean, float* rstd, const float* x, const float* weight,
               const float* bias, int64_t rows, int64_t c, float eps, Stream stream) {
  CheckRows("LayerNorm", rows, c);
  if (rows == 0) return;
  KILN_LAUNCH(LayerNormForward, dim3(static_cast<unsigned>(rows)), dim3(kRowThreads), 0, stream, y,
              mean, rstd, x, weight, bias, c, eps);
}

void LayerNormBackward(float* grad_x, float* grad_weight, float* grad_bias, const float* x,
                       const float* weight, const float* mean, const float* rstd,
                       const float* grad_y, int64_t rows, int64_t c, Stream stream) {
  CheckRows("LayerNormBackward", rows, c);
  if (grad_x != nullptr && rows > 0) {
    KILN_LAUNCH(LayerNormBackwardX, dim3(static_cast<unsigned>(rows)), dim3(kRowThreads), 0, stream,
                grad_x, x, weight, mean, rstd, grad_y, c);
  }
  if (grad_weight != nullptr || grad_bias != nullptr) {
    const unsigned blocks = static_cast<unsigned>((c + kColumnThreads - 1) / kColumnThreads);
    KILN_LAUNCH(LayerNormBackwardWeight, dim3(blocks), dim3(kColumnThreads), 0, stream, grad_weight,
                grad_bias, x, mean, rstd, grad_y, rows, c);
  }
}

}  // namespace kiln::KILN_CUDA_NS
