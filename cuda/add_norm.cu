// CUDA kernels of the residual add fused with a norm (rows AddLayerNorm, AddRmsNorm; the semantics
// of cpu/add_layer_norm.cc / cpu/add_rms_norm.cc): one block per row writes h = x + residual, then
// runs the plain norm's row math (cuda/norm_rows.cuh) on the h it just wrote. Each thread reads
// back only the elements it wrote itself (the same strided loop), so no barrier is needed, and y,
// mean and rstd have the bits of LayerNorm / RmsNorm (cuda/) applied to h. The backward is
// LayerNormBackward / RmsNormBackward on h (as on the CPU).
#include "cuda/kernels.h"
#include "cuda/norm_rows.cuh"

namespace kiln::KILN_CUDA_NS {
namespace {

constexpr int kRowThreads = 256;  // the plain norms' block size: the reduction order is theirs

__device__ __forceinline__ float* AddRow(float* __restrict__ h, const float* __restrict__ x,
                                         const float* __restrict__ res, int64_t r, int64_t c) {
  float* hr = h + r * c;
  for (int64_t j = threadIdx.x; j < c; j += blockDim.x) hr[j] = x[r * c + j] + res[r * c + j];
  return hr;
}

__global__ void AddLayerNormKernel(float* __restrict__ y, float* __restrict__ h,
                                   float* __restrict__ mean, float* __restrict__ rstd,
                                   const float* __restrict__ x, const float* __restrict__ res,
                                   const float* __restrict__ w, const float* __restrict__ b,
                                   int64_t c, float eps) {
  const int64_t r = blockIdx.x;
  const float* hr = AddRow(h, x, res, r, c);
  LayerNormRow(y + r * c, mean + r, rstd + r, hr, w, b, c, eps);
}

__global__ void AddRmsNormKernel(float* __restrict__ y, float* __restrict__ h,
                                 float* __restrict__ rstd, const float* __restrict__ x,
                                 const float* __restrict__ res, const float* __restrict__ w,
                                 int64_t c, float eps) {
  const int64_t r = blockIdx.x;
  const float* hr = AddRow(h, x, res, r, c);
  RmsNormRow(y + r * c, rstd + r, hr, w, c, eps);
}

void CheckRows(const char* what, int64_t rows, int64_t c) {
  KILN_CHECK(rows >= 0 && rows <= 0x7fffffff && c > 0)
      << "cuda " << what << ": rows " << rows << ", C " << c << " out of range";
}

}  // namespace

void AddLayerNorm(float* y, float* h, float* mean, float* rstd, const float* x,
                  const float* residual, const float* weight, const float* bias, int64_t rows,
                  int64_t c, float eps, Stream stream) {
  CheckRows("AddLayerNorm", rows, c);
  if (rows == 0) return;
  KILN_LAUNCH(AddLayerNormKernel, dim3(static_cast<unsigned>(rows)), dim3(kRowThreads), 0, stream,
              y, h, mean, rstd, x, residual, weight, bias, c, eps);
}

void AddRmsNorm(float* y, float* h, float* rstd, const float* x, const float* residual,
                const float* weight, int64_t rows, int64_t c, float eps, Stream stream) {
  CheckRows("AddRmsNorm", rows, c);
  if (rows == 0) return;
  KILN_LAUNCH(AddRmsNormKernel, dim3(static_cast<unsigned>(rows)), dim3(kRowThreads), 0, stream, y,
              h, rstd, x, residual, weight, c, eps);
}

}  // namespace kiln::KILN_CUDA_NS
