// CUDA kernels of the binary elementwise rows (Add, Sub, Mul, Div, Maximum) on same-shape
// contiguous f32 operands, and MaximumBackward. One IEEE operation per element: the same bits as
// the CPU kernels (cpu/binary.cc), including Maximum's NaN and tie rules.
#include "cuda/elementwise.cuh"
#include "cuda/kernels.h"

namespace kiln::KILN_CUDA_NS {
namespace {

struct AddF { __device__ float operator()(float a, float b) const { return a + b; } };
struct SubF { __device__ float operator()(float a, float b) const { return a - b; } };
struct MulF { __device__ float operator()(float a, float b) const { return a * b; } };
struct DivF { __device__ float operator()(float a, float b) const { return a / b; } };
struct MaximumF {
  // NaN propagates from either side; a tie returns a.
  __device__ float operator()(float a, float b) const {
    return a > b || a != a ? a : (b != b ? b : (a < b ? b : a));
  }
};

__global__ void MaximumBackwardKernel(float* __restrict__ ga, float* __restrict__ gb,
                                      const float* __restrict__ a, const float* __restrict__ b,
                                      const float* __restrict__ g, int64_t n) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    const float av = a[i], bv = b[i], gv = g[i];
    // A tie sends half to each side; a NaN side takes the whole gradient.
    ga[i] = av > bv || av != av ? gv : (av == bv ? gv * 0.5f : 0.0f);
    gb[i] = bv > av || bv != bv ? gv : (av == bv ? gv * 0.5f : 0.0f);
  }
}

template <typename F>
void LaunchZip(float* c, const float* a, const float* b, int64_t n, Stream stream) {
  if (n == 0) return;
  KILN_LAUNCH(ZipKernel<F>, dim3(ElementwiseBlocks(n)), dim3(kElementwiseThreads), 0, stream, c, a,
              b, n, F{});
}

}  // namespace

void Binary(Op op, float* c, const float* a, const float* b, int64_t n, Stream stream) {
  switch (op) {
    case Op::kAdd: return LaunchZip<AddF>(c, a, b, n, stream);
    case Op::kSub: return LaunchZip<SubF>(c, a, b, n, stream);
    case Op::kMul: return LaunchZip<MulF>(c, a, b, n, stream);
    case Op::kDiv: return LaunchZip<DivF>(c, a, b, n, stream);
    case Op::kMaximum: return LaunchZip<MaximumF>(c, a, b, n, stream);
    default: break;
  }
  KILN_CHECK(false) << "cuda Binary: " << OpName(op) << " is not a binary elementwise row";
}

void MaximumBackward(float* grad_a, float* grad_b, const float* a, const float* b,
                     const float* grad, int64_t n, Stream stream) {
  if (n == 0) return;
  KILN_LAUNCH(MaximumBackwardKernel, dim3(ElementwiseBlocks(n * 4)), dim3(kElementwiseThreads), 0,
              stream, grad_a, grad_b, a, b, grad, n);
}

}  // namespace kiln::KILN_CUDA_NS
