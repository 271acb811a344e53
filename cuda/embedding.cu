// CUDA kernels of Embedding (a row gather) and its deterministic backward (a scatter-add into the
// table without atomics): one thread per channel adds the tokens' gradients in increasing token
// order, the order of cpu/embedding.cc, so grad_weight is bitwise the CPU's. Its parallelism is
// C threads; a sort-by-id version is the planned faster path.
#include "cuda/kernels.h"
#include "cuda/portable.h"

namespace kiln::KILN_CUDA_NS {
namespace {

constexpr int kThreads = 256;

__global__ void EmbeddingForward(float* __restrict__ out, const float* __restrict__ w,
                                 const int64_t* __restrict__ ids, int64_t n, int64_t c) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < n * c;
       e += stride) {
    const int64_t t = e / c, j = e % c;
    out[e] = w[ids[t] * c + j];
  }
}

__global__ void EmbeddingBackwardKernel(float* __restrict__ gw, const float* __restrict__ g,
                                        const int64_t* __restrict__ ids, int64_t n, int64_t v,
                                        int64_t c) {
  const int64_t j = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (j >= c) return;
  for (int64_t r = 0; r < v; ++r) gw[r * c + j] = 0.0f;
  for (int64_t t = 0; t < n; ++t) gw[ids[t] * c + j] += g[t * c + j];
}

}  // namespace

void Embedding(float* out, const float* weight, const int64_t* ids, int64_t n, int64_t c,
               Stream stream) {
  KILN_CHECK(n >= 0 && c >= 0) << "cuda Embedding: negative size N " << n << ", C " << c;
  if (n == 0 || c == 0) return;
  const int64_t blocks = (n * c + kThreads - 1) / kThreads;
  KILN_LAUNCH(EmbeddingForward, dim3(static_cast<unsigned>(blocks < 4096 ? blocks : 4096)),
              dim3(kThreads), 0, stream, out, weight, ids, n, c);
}

void EmbeddingBackward(float* grad_weight, const float* grad_out, const int64_t* ids, int64_t n,
                       int64_t v, int64_t c, Stream stream) {
  KILN_CHECK(n >= 0 && v >= 0 && c >= 0)
      << "cuda EmbeddingBackward: negative size N " << n << ", V " << v << ", C " << c;
  if (c == 0) return;
  KILN_LAUNCH(EmbeddingBackwardKernel, dim3(static_cast<unsigned>((c + kThreads - 1) / kThreads)),
              dim3(kThreads), 0, stream, grad_weight, grad_out, ids, n, v, c);
}

}  // namespace kiln::KILN_CUDA_NS
