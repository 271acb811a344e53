// CUDA kernels of RmsNorm (y = x * rsqrt(mean(x^2) + eps) * w) and its fused backward over the
// rows of (rows, C), built like cuda/layer_norm.cu: block-per-row statistics and grad_x, and a
// deterministic weight gradient (one thread per column, rows in increasing order, no atomics).
#include "cuda/kernels.h"
#include "cuda/norm_rows.cuh"

namespace kiln::KILN_CUDA_NS {
namespace {

constexpr int kRowThreads = 256;
constexpr int kColumnThreads = 256;

__global__ void RmsNormForward(float* __restrict__ y, float* __restrict__ rstd_out,
                               const float* __restrict__ x, const float* __restrict__ w, int64_t c,
                               float eps) {
  const int64_t r = blockIdx.x;
  RmsNormRow(y + r * c, rstd_out + r, x + r * c, w, c, eps);
}

// gx = rstd * (gy w - xhat * mean(gy w xhat)), xhat = x rstd.
__global__ void RmsNormBackwardX(float* __restrict__ gx, const float* __restrict__ x,
                                 const float* __restrict__ w, const float* __restrict__ rstd_in,
                                 const float* __restrict__ gy, int64_t c) {
  const int64_t r = blockIdx.x;
  const float* xr = x + r * c;
  const float* gr = gy + r * c;
  const float rstd = rstd_in[r];
  float s = 0.0f;
  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) s += (gr[j] * w[j]) * (xr[j] * rstd);
  const float m = BlockReduce(s, SumOp{}) / static_cast<float>(c);
  float* out = gx + r * c;
  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) {
    out[j] = (gr[j] * w[j] - (xr[j] * rstd) * m) * rstd;
  }
}

__global__ void RmsNormBackwardWeight(float* __restrict__ gw, const float* __restrict__ x,
                                      const float* __restrict__ rstd_in,
                                      const float* __restrict__ gy, int64_t rows, int64_t c) {
  const int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= c) return;
  float a = 0.0f;
  for (int64_t r = 0; r < rows; ++r) a += gy[r * c + j] * (x[r * c + j] * rstd_in[r]);
  gw[j] = a;
}

}  // namespace

void RmsNorm(float* y, float* rstd, const float* x, const float* weight, int64_t rows, int64_t c,
             float eps, Stream stream) {
  KILN_CHECK(rows >= 0 && rows <= 0x7fffffff && c > 0)
      << "cuda RmsNorm: rows " << rows << ", C " << c << " out of range";
  if (rows == 0) return;
  KILN_LAUNCH(RmsNormForward, dim3(static_cast<unsigned>(rows)), dim3(kRowThreads), 0, stream, y,
              rstd, x, weight, c, eps);
}

void RmsNormBackward(float* grad_x, float* grad_weight, const float* x, const float* weight,
                     const float* rstd, const float* grad_y, int64_t rows, int64_t c,
                     Stream stream) {
  KILN_CHECK(rows >= 0 && rows <= 0x7fffffff && c > 0)
      << "cuda RmsNormBackward: rows " << rows << ", C " << c << " out of range";
  if (grad_x != nullptr && rows > 0) {
    KILN_LAUNCH(RmsNormBackwardX, dim3(static_cast<unsigned>(rows)), dim3(kRowThreads), 0, stream,
                grad_x, x, weight, rstd, grad_y, c);
  }
  if (grad_weight != nullptr) {
    const unsigned blocks = static_cast<unsigned>((c + kColumnThreads - 1) / kColumnThreads);
    KILN_LAUNCH(RmsNormBackwardWeight, dim3(blocks), dim3(kColumnThreads), 0, stream, grad_weight,
                x, rstd, grad_y, rows, c);
  }
}

}  // namespace kiln::KILN_CUDA_NS
