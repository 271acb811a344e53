// CUDA kernels of SwiGLU (rows Swiglu / SwigluBackward; cpu/swiglu.cc's semantics): y = silu(gate)
// up in one pass, and grad_gate = (g up) silu'(gate), grad_up = g silu(gate) in one pass. The
// formulas are those of cuda/unary.cu's Silu / SiluBackward and the Mul kernel (sigmoid as
// 1 / (1 + expf(-x))), so the bits are the unfused CUDA chain's; against the CPU (kmath's exp and
// two-branch sigmoid) they differ by a few ulp. Grid-stride kernels of cuda/elementwise.cuh.
#include "cuda/elementwise.cuh"
#include "cuda/kernels.h"

namespace kiln::KILN_CUDA_NS {
namespace {

__device__ __forceinline__ float Sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

struct SwigluF {
  __device__ float operator()(float gate, float up) const { return (gate * Sigmoid(gate)) * up; }
};

__global__ void SwigluBackwardKernel(float* __restrict__ g_gate, float* __restrict__ g_up,
                                     const float* __restrict__ gate, const float* __restrict__ up,
                                     const float* __restrict__ g, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    const float x = gate[i];
    const float s = Sigmoid(x);
    const float ga = g[i] * up[i];  // the gradient of silu(gate), as Mul's backward gives it
    g_gate[i] = ga * (s * (1.0f + x * (1.0f - s)));
    g_up[i] = g[i] * (x * s);
  }
}

}  // namespace

void Swiglu(float* y, const float* gate, const float* up, int64_t n, Stream stream) {
  KILN_CHECK(n >= 0) << "cuda Swiglu: negative size " << n;
  if (n == 0) return;
  KILN_LAUNCH(ZipKernel<SwigluF>, dim3(ElementwiseBlocks(n)), dim3(kElementwiseThreads), 0, stream,
              y, gate, up, n, SwigluF{});
}

void SwigluBackward(float* grad_gate, float* grad_up, const float* gate, const float* up,
                    const float* grad_y, int64_t n, Stream stream) {
  KILN_CHECK(n >= 0) << "cuda SwigluBackward: negative size " << n;
  if (n == 0) return;
  KILN_LAUNCH(SwigluBackwardKernel, dim3(ElementwiseBlocks(n)), dim3(kElementwiseThreads), 0,
              stream, grad_gate, grad_up, gate, up, grad_y, n);
}

}  // namespace kiln::KILN_CUDA_NS
