// The cuBLAS / cuBLASLt GEMMs of the cuda device's Matmul and Linear rows, chosen by
// KILN_CUDA_GEMM / SetCudaGemm (cuda/gemm_select.h; docs/cuda.md, "The GEMM switch"). KILN_CUDA
// builds only. FP32 compute with TF32 off (CUBLAS_DEFAULT_MATH for cublasSgemm,
// CUBLAS_COMPUTE_32F for cublasLt): to rounding of kiln's tiled GEMM, but neither batch invariant
// nor bitwise the CPU's. One cuBLAS and one cuBLASLt handle per device, created at the first call
// on the device's stream, with a 32 MiB workspace from the device's caching allocator.
#pragma once

#include <cstdint>

#include "cuda/runtime/gemm_plan.h"
#include "tensor/device.h"

struct CUstream_st;

namespace kiln::cuda {

// The GEMMs of `shape` (cuda/runtime/gemm_plan.h) over dense f32 device arrays, plus bias (n) on
// every row of every C when not null.
struct GemmOperands {
  float* c = nullptr;
  const float* a = nullptr;
  const float* b = nullptr;
  const float* bias = nullptr;
  GemmShape shape;
};

// cublasSgemm / cublasSgemmStridedBatched (beta 1 after the bias is copied into C).
void CublasGemm(const GemmOperands& g, Device device, CUstream_st* stream);
// cublasLtMatmul with strided batches and the bias as its epilogue (CUBLASLT_EPILOGUE_BIAS).
void CublasLtGemm(const GemmOperands& g, Device device, CUstream_st* stream);

}  // namespace kiln::cuda
