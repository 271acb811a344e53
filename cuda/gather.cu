// CUDA kernels of Gather (torch.gather along one dim) and its deterministic backward on
// contiguous operands viewed as (outer, len, inner) around the gathered dim: out[o, j, i] =
// x[o, index[o, j, i], i]. The backward never uses atomics: one thread owns a line (o, i) and adds
// its len gradients in increasing j, the order of cpu/gather.cc, so grad_x is bitwise the CPU's.
#include "cuda/kernels.h"
#include "cuda/portable.h"

namespace kiln::KILN_CUDA_NS {
namespace {

constexpr int kThreads = 256;

__global__ void GatherKernel(float* __restrict__ out, const float* __restrict__ x,
                             const int64_t* __restrict__ index, int64_t outer, int64_t len,
                             int64_t inner, int64_t x_len) {
  const int64_t total = outer * len * inner;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < total;
       e += stride) {
    const int64_t i = e % inner, o = e / (len * inner);
    out[e] = x[(o * x_len + index[e]) * inner + i];
  }
}

__global__ void GatherBackwardKernel(float* __restrict__ gx, const float* __restrict__ g,
                                     const int64_t* __restrict__ index, int64_t outer,
                                     int64_t len, int64_t inner, int64_t x_len) {
  const int64_t line = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (line >= outer * inner) return;
  const int64_t o = line / inner, i = line % inner;
  float* gl = gx + o * x_len * inner + i;
  for (int64_t r = 0; r < x_len; ++r) gl[r * inner] = 0.0f;
  for (int64_t j = 0; j < len; ++j) {
    const int64_t e = (o * len + j) * inner + i;
    gl[index[e] * inner] += g[e];
  }
}

unsigned Blocks(int64_t n) {
  const int64_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 4096 ? 4096 : b));
}

}  // namespace

void Gather(float* out, const float* x, const int64_t* index, int64_t outer, int64_t len,
            int64_t inner, int64_t x_len, Stream stream) {
  KILN_CHECK(outer >= 0 && len >= 0 && inner >= 0 && x_len >= 0)
      << "cuda Gather: negative size";
  if (outer * len * inner == 0) return;
  KILN_LAUNCH(GatherKernel, dim3(Blocks(outer * len * inner)), dim3(kThreads), 0, stream, out, x,
              index, outer, len, inner, x_len);
}

void GatherBackward(float* grad_x, const float* grad, const int64_t* index, int64_t outer,
                    int64_t len, int64_t inner, int64_t x_len, Stream stream) {
  KILN_CHECK(outer >= 0 && len >= 0 && inner >= 0 && x_len >= 0)
      << "cuda GatherBackward: negative size";
  const int64_t lines = outer * inner;
  if (lines == 0) return;
  KILN_CHECK((lines + kThreads - 1) / kThreads <= 0x7fffffff) << "cuda GatherBackward: too large";
  KILN_LAUNCH(GatherBackwardKernel, dim3(static_cast<unsigned>((lines + kThreads - 1) / kThreads)),
              dim3(kThreads), 0, stream, grad_x, grad, index, outer, len, inner, x_len);
}

}  // namespace kiln::KILN_CUDA_NS
