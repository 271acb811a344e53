// The cuBLAS / cuBLASLt GEMMs of the cuda device's Matmul and Linear rows, chosen by
// KILN_CUDA_GEMM / SetCudaGemm (cuda/gemm_select.h; docs/cuda.md, "The GEMM switch"). KILN_CUDA
// builds only. FP32 compute with TF32 off (CUBLAS_DEFAULT_MATH for cublasSgemm,
// CUBLAS_COMPUTE_32F for cublasLt): to rounding of kiln's tiled GEMM, but neither batch invariant
// nor bitwise the CPU's. One cuBLAS and one cuBLASLt handle per device, created at the first call
// on the device's stream, with a 32 MiB workspace from the device's caching allocator.
#pragma once

#include <cstdint>

#include "tensor/device.h"

struct CUstream_st;

namespace kiln::cuda {

// C[i] (m, n) = op(A[i]) op(B[i]) (+ bias (n) on every row) for i < batch, row-major, dense f32
// device arrays (cuda/runtime/gemm_plan.h has the layouts). stride_*: elements from one matrix to
// the next; stride_b 0 shares one B among the batch.
struct GemmOperands {
  float* c = nullptr;
  const float* a = nullptr;
  const float* b = nullptr;
  const float* bias = nullptr;
  int64_t batch = 1, m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;
};

// cublasSgemm / cublasSgemmStridedBatched (beta 1 after the bias is copied into C).
void CublasGemm(const GemmOperands& g, Device device, CUstream_st* stream);
// cublasLtMatmul with strided batches and the bias as its epilogue (CUBLASLT_EPILOGUE_BIAS).
void CublasLtGemm(const GemmOperands& g, Device device, CUstream_st* stream);

}  // namespace kiln::cuda
