// CUDA kernels of the unary elementwise rows (Neg ... MulScalar) and UnaryBackward, f32: one
// functor per row through MapKernel (cuda/elementwise.cuh). Uses CUDA's expf / tanhf / logf, not
// kiln's kmath, so results agree with the CPU to a few ulp, not bitwise (tests/cuda).
#include "cuda/elementwise.cuh"
#include "cuda/kernels.h"

namespace kiln::KILN_CUDA_NS {
namespace {

constexpr float kGeluK0 = 0.7978845608028654f;  // sqrt(2 / pi)
constexpr float kGeluK1 = 0.044715f;

__device__ __forceinline__ float SigmoidOf(float x) { return 1.0f / (1.0f + expf(-x)); }

struct NegF { __device__ float operator()(float x) const { return -x; } };
struct ExpF { __device__ float operator()(float x) const { return expf(x); } };
struct LogF { __device__ float operator()(float x) const { return logf(x); } };
struct SqrtF { __device__ float operator()(float x) const { return sqrtf(x); } };
struct RsqrtF { __device__ float operator()(float x) const { return 1.0f / sqrtf(x); } };
struct TanhF { __device__ float operator()(float x) const { return tanhf(x); } };
struct SigmoidF { __device__ float operator()(float x) const { return SigmoidOf(x); } };
struct ReluF {
  __device__ float operator()(float x) const { return x < 0.0f ? 0.0f : x; }  // NaN stays NaN
};
struct GeluF {
  __device__ float operator()(float x) const {
    const float u = kGeluK0 * (x + kGeluK1 * (x * x * x));
    return 0.5f * x * (1.0f + tanhf(u));
  }
};
struct SiluF { __device__ float operator()(float x) const { return x * SigmoidOf(x); } };
struct AddScalarF {
  float s;
  __device__ float operator()(float x) const { return x + s; }
};
struct MulScalarF {
  float s;
  __device__ float operator()(float x) const { return x * s; }
};

// Backward functors: (x, y, grad_y) -> grad_x, the formulas of cpu/unary_backward.cc.
struct NegB { __device__ float operator()(float, float, float g) const { return -g; } };
struct ExpB { __device__ float operator()(float, float y, float g) const { return g * y; } };
struct LogB { __device__ float operator()(float x, float, float g) const { return g / x; } };
struct SqrtB {
  __device__ float operator()(float, float y, float g) const { return g * 0.5f / y; }
};
struct RsqrtB {
  __device__ float operator()(float, float y, float g) const { return g * (-0.5f * (y * y * y)); }
};
struct TanhB {
  __device__ float operator()(float, float y, float g) const { return g * (1.0f - y * y); }
};
struct SigmoidB {
  __device__ float operator()(float, float y, float g) const { return g * (y * (1.0f - y)); }
};
struct ReluB {
  __device__ float operator()(float x, float, float g) const { return x > 0.0f ? g : 0.0f; }
};
struct GeluB {
  __device__ float operator()(float x, float, float g) const {
    const float x2 = x * x;
    const float t = tanhf(kGeluK0 * (x + kGeluK1 * (x2 * x)));
    const float du = kGeluK0 * (1.0f + 3.0f * kGeluK1 * x2);
    return g * (0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du);
  }
};
struct SiluB {
  __device__ float operator()(float x, float, float g) const {
    const float s = SigmoidOf(x);
    return g * (s * (1.0f + x * (1.0f - s)));
  }
};

template <typename F>
void LaunchMap(float* y, const float* x, int64_t n, F f, Stream stream) {
  if (n == 0) return;
  KILN_LAUNCH(MapKernel<F>, dim3(ElementwiseBlocks(n)), dim3(kElementwiseThreads), 0, stream, y,
              x, n, f);
}

template <typename F>
void LaunchMap3(float* gx, const float* x, const float* y, const float* g, int64_t n, F f,
                Stream stream) {
  if (n == 0) return;
  KILN_LAUNCH(Map3Kernel<F>, dim3(ElementwiseBlocks(n * 4)), dim3(kElementwiseThreads), 0, stream,
              gx, x, y, g, n, f);
}

}  // namespace

void Unary(Op op, float* y, const float* x, int64_t n, float scalar, Stream stream) {
  switch (op) {
    case Op::kNeg: return LaunchMap(y, x, n, NegF{}, stream);
    case Op::kExp: return LaunchMap(y, x, n, ExpF{}, stream);
    case Op::kLog: return LaunchMap(y, x, n, LogF{}, stream);
    case Op::kSqrt: return LaunchMap(y, x, n, SqrtF{}, stream);
    case Op::kRsqrt: return LaunchMap(y, x, n, RsqrtF{}, stream);
    case Op::kTanh: return LaunchMap(y, x, n, TanhF{}, stream);
    case Op::kSigmoid: return LaunchMap(y, x, n, SigmoidF{}, stream);
    case Op::kRelu: return LaunchMap(y, x, n, ReluF{}, stream);
    case Op::kGelu: return LaunchMap(y, x, n, GeluF{}, stream);
    case Op::kSilu: return LaunchMap(y, x, n, SiluF{}, stream);
    case Op::kAddScalar: return LaunchMap(y, x, n, AddScalarF{scalar}, stream);
    case Op::kMulScalar: return LaunchMap(y, x, n, MulScalarF{scalar}, stream);
    default: break;
  }
  KILN_CHECK(false) << "cuda Unary: " << OpName(op) << " is not a unary elementwise row";
}

void UnaryBackward(Op op, float* grad_x, const float* x, const float* y, const float* grad_y,
                   int64_t n, Stream stream) {
  switch (op) {
    case Op::kNeg: return LaunchMap3(grad_x, x, y, grad_y, n, NegB{}, stream);
    case Op::kExp: return LaunchMap3(grad_x, x, y, grad_y, n, ExpB{}, stream);
    case Op::kLog: return LaunchMap3(grad_x, x, y, grad_y, n, LogB{}, stream);
    case Op::kSqrt: return LaunchMap3(grad_x, x, y, grad_y, n, SqrtB{}, stream);
    case Op::kRsqrt: return LaunchMap3(grad_x, x, y, grad_y, n, RsqrtB{}, stream);
    case Op::kTanh: return LaunchMap3(grad_x, x, y, grad_y, n, TanhB{}, stream);
    case Op::kSigmoid: return LaunchMap3(grad_x, x, y, grad_y, n, SigmoidB{}, stream);
    case Op::kRelu: return LaunchMap3(grad_x, x, y, grad_y, n, ReluB{}, stream);
    case Op::kGelu: return LaunchMap3(grad_x, x, y, grad_y, n, GeluB{}, stream);
    case Op::kSilu: return LaunchMap3(grad_x, x, y, grad_y, n, SiluB{}, stream);
    default: break;
  }
  KILN_CHECK(false) << "cuda UnaryBackward: " << OpName(op) << " has no unary backward";
}

}  // namespace kiln::KILN_CUDA_NS
