// The CUDA backend's kernel table (KILN_CUDA builds): the adapter of cuda/runtime/kernel_table.inc
// over nvcc's launchers (kiln::cuda), on the device's one stream; temporaries come from the
// device's caching allocator. Matmul and Linear go through the GEMM switch (cuda/gemm_select.h):
// kiln's tiled kernel (RunMatmul / RunLinear of the adapter) or cuBLAS / cuBLASLt.
#include <cuda_runtime_api.h>

#include <exception>
#include <vector>

#include "base/check.h"
#include "cuda/backend.h"
#include "cuda/gemm_select.h"
#include "cuda/kernels.h"
#include "cuda/runtime/cublas_gemm.h"
#include "cuda/runtime/index_cast.h"
#include "tensor/device_memory.h"
#include "tensor/tensor.h"

namespace kiln::cuda {
namespace {
thread_local int tls_device = -1;  // the device cudaSetDevice last made current on this thread
}  // namespace
// Always cudaSetDevice: the caching allocator and cuBLAS set the current device too, so a cached
// "already current" could be stale with more than one GPU.
void SetLaunchDevice(int index) {
  const cudaError_t e = cudaSetDevice(index);
  KILN_CHECK(e == cudaSuccess) << "cudaSetDevice(" << index << "): " << cudaGetErrorString(e);
  tls_device = index;
}
}  // namespace kiln::cuda

// The GEMM switch's rows, defined below the adapter (they fall back to its tiled RunMatmul /
// RunLinear) and put in the table by the adapter's KILN_RT_OVERRIDES hook.
namespace kiln::cuda::table {
namespace {
void RunMatmulSwitch(const KernelArgs& args);
void RunLinearSwitch(const KernelArgs& args);
}  // namespace
}  // namespace kiln::cuda::table
#define KILN_RT_OVERRIDES(set)       \
  set(Op::kMatmul, &RunMatmulSwitch); \
  set(Op::kLinear, &RunLinearSwitch)

#define KILN_RT_NS cuda
#define KILN_RT_NAME "cuda"
#define KILN_RT_DEVICE() (::kiln::Device{::kiln::Device::kCUDA, ::kiln::cuda::tls_device})
#include "cuda/runtime/kernel_table.inc"

namespace kiln::cuda::table {
namespace {

bool AllF32(const KernelArgs& args) {
  for (int i = 0; i < args.n_in; ++i) {
    if (args.in[i].data != nullptr && args.in[i].dtype != DType::kF32) return false;
  }
  return args.out[0].dtype == DType::kF32;
}

// The GEMM this call runs: the selection, except that what the cuBLAS paths do not take (non-f32
// operands, e.g. bf16; degenerate sizes, which the op layer never sends) runs the tiled kernel.
CudaGemm Selected(const KernelArgs& args, int64_t elements, int64_t k) {
  const CudaGemm g = ActiveCudaGemm();
  if (g == CudaGemm::kTiled || !AllF32(args) || elements == 0 || k == 0) return CudaGemm::kTiled;
  return g;
}

void RunBlas(CudaGemm g, const GemmOperands& op) {
  if (g == CudaGemm::kCublas) {
    CublasGemm(op, KILN_RT_DEVICE(), CurrentStream());
  } else {
    CublasLtGemm(op, KILN_RT_DEVICE(), CurrentStream());
  }
}

// Matmul's slots as RunMatmul's (cuda/runtime/gemm_plan.h: MatmulShape).
void RunMatmulSwitch(const KernelArgs& args) {
  const KArray &a = args.in[0], &b = args.in[1], &c = args.out[0];
  const GemmShape shape = MatmulShape(a, b, c, args.iattr[0] != 0, args.iattr[1] != 0,
                                      static_cast<int>(args.iattr[2]));
  const CudaGemm g = Selected(args, shape.batch * shape.m * shape.n, shape.k);
  CountCudaGemmCall(g);
  if (g == CudaGemm::kTiled) return RunMatmul(args);
  Scratch s;
  GemmOperands op;
  op.a = s.In(a);
  op.b = s.In(b);
  op.c = s.Out(c);
  op.shape = shape;
  RunBlas(g, op);
}

// Linear's slots as RunLinear's: y (N, M) = x (N, K) w (M, K)^T + bias.
void RunLinearSwitch(const KernelArgs& args) {
  const KArray &x = args.in[0], &w = args.in[1];
  const CudaGemm g = Selected(args, x.sizes[0] * w.sizes[0], x.sizes[1]);
  CountCudaGemmCall(g);
  if (g == CudaGemm::kTiled) return RunLinear(args);
  Scratch s;
  GemmOperands op;
  op.c = s.Out(args.out[0]);
  op.a = s.In(x);
  op.b = s.In(w);
  op.bias = s.In(args.in[2]);
  op.shape.m = x.sizes[0];
  op.shape.n = w.sizes[0];
  op.shape.k = x.sizes[1];
  op.shape.trans_b = true;
  op.shape.stride_a = op.shape.m * op.shape.k;
  op.shape.stride_b = op.shape.n * op.shape.k;
  op.shape.stride_c = op.shape.m * op.shape.n;
  RunBlas(g, op);
}

}  // namespace
}  // namespace kiln::cuda::table
