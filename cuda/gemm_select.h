// Which GEMM the CUDA device's Matmul and Linear rows run (docs/cuda.md, "The GEMM switch"):
//   tiled     kiln's handwritten tiled GEMM (cuda/matmul.cuh): bitwise the CPU's, batch invariant
//             (the default);
//   cublas    cublasSgemm / cublasSgemmStridedBatched, FP32 compute, TF32 off;
//   cublaslt  cublasLtMatmul (CUBLAS_COMPUTE_32F), Linear's bias fused as its epilogue.
// The cuBLAS paths are neither batch invariant nor bitwise the CPU's. One process-wide selection:
// SetCudaGemm, else KILN_CUDA_GEMM (read at the first use), else tiled. The cuda-sim device (the
// interpreter) and the CPU ignore it. Built in every build (the flag parses everywhere); choosing
// cublas / cublaslt in a build without CUDA is an error.
#pragma once

#include <cstdint>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kiln {

enum class CudaGemm { kTiled = 0, kCublas = 1, kCublasLt = 2 };
inline constexpr int kNumCudaGemms = 3;

// "tiled", "cublas", "cublaslt" -> CudaGemm; anything else is a one-line error naming the value.
absl::StatusOr<CudaGemm> ParseCudaGemm(absl::string_view name);
const char* CudaGemmName(CudaGemm g);

// Selects the GEMM for the whole process (the next Matmul / Linear on a CUDA device uses it).
// cublas / cublaslt in a build without CUDA: FailedPrecondition.
absl::Status SetCudaGemm(CudaGemm g);
// ParseCudaGemm, then SetCudaGemm.
absl::Status SetCudaGemm(absl::string_view name);

// Applies KILN_CUDA_GEMM now unless a selection was made already (unset or empty: tiled). A bad
// or unavailable value is an error naming KILN_CUDA_GEMM. Commands call it at startup so a bad
// value fails at once, not at the first CUDA matmul.
absl::Status CudaGemmFromEnv();

// The selection (reads KILN_CUDA_GEMM at the first call when nothing was set; a bad value throws
// kiln::Error).
CudaGemm ActiveCudaGemm();

// Calls of the cuda table's Matmul / Linear per GEMM actually run (tests check that the switch
// switched; a fallback to tiled counts as tiled).
void CountCudaGemmCall(CudaGemm g);
int64_t CudaGemmCalls(CudaGemm g);

}  // namespace kiln
