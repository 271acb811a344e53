// CUDA kernel of the Rope row, rotate-half layout (Hugging Face Llama): for i < HS/2 the pair
// (x_i, x_{i+HS/2}) is rotated by angle = pos * theta^(-2i/HS), computed in double and rounded
// once to float as on the CPU (which uses kiln's kmath sin / cos: agreement to an ulp of the
// float result, not bitwise). inverse negates the sine: the transpose, i.e. the backward.
#include "cuda/kernels.h"
#include "cuda/portable.h"

namespace kiln::KILN_CUDA_NS {
namespace {

constexpr int kThreads = 256;

// x, y (B*T, NH, HS) contiguous; pos (B*T) int64; one thread per (bt, h, i < HS/2).
__global__ void RopeKernel(float* __restrict__ y, const float* __restrict__ x,
                           const int64_t* __restrict__ pos, int64_t bt, int64_t nh, int64_t hs,
                           double theta, int inverse) {
  const int64_t half = hs / 2, total = bt * nh * half;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += stride) {
    const int64_t i = e % half, row = e / half, t = row / nh;
    const double freq = pow(theta, -(2.0 * static_cast<double>(i)) / static_cast<double>(hs));
    const double angle = static_cast<double>(pos[t]) * freq;
    const float c = static_cast<float>(cos(angle));
    const float s0 = static_cast<float>(sin(angle));
    const float s = inverse ? -s0 : s0;
    const float* xr = x + row * hs;
    float* yr = y + row * hs;
    const float x1 = xr[i], x2 = xr[i + half];
    yr[i] = x1 * c - x2 * s;
    yr[i + half] = x2 * c + x1 * s;
  }
}

}  // namespace

void Rope(float* y, const float* x, const int64_t* positions, int64_t bt, int64_t nh, int64_t hs,
          double theta, bool inverse, Stream stream) {
  KILN_CHECK(bt >= 0 && nh >= 0 && hs >= 0 && hs % 2 == 0)
      << "cuda Rope: sizes BT " << bt << ", NH " << nh << ", HS " << hs << " (HS must be even)";
  const int64_t total = bt * nh * (hs / 2);
  if (total == 0) return;
  int64_t blocks = (total + kThreads - 1) / kThreads;
  if (blocks > 4096) blocks = 4096;
  KILN_LAUNCH(RopeKernel, dim3(static_cast<unsigned>(blocks)), dim3(kThreads), 0, stream, y, x,
              positions, bt, nh, hs, theta, inverse ? 1 : 0);
}

}  // namespace kiln::KILN_CUDA_NS
