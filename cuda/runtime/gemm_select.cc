// The process-wide CUDA GEMM selection (cuda/gemm_select.h).
#include "cuda/gemm_select.h"

#include <atomic>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace kiln {
namespace {

// -1 until chosen: by SetCudaGemm, or from KILN_CUDA_GEMM at the first use.
std::atomic<int> g_gemm{-1};
std::atomic<int64_t> g_calls[kNumCudaGemms] = {};

}  // namespace

absl::StatusOr<CudaGemm> ParseCudaGemm(absl::string_view name) {
  if (name == "tiled") return CudaGemm::kTiled;
  if (name == "cublas") return CudaGemm::kCublas;
  if (name == "cublaslt") return CudaGemm::kCublasLt;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown CUDA GEMM '", name, "' (expected tiled, cublas or cublaslt)"));
}

const char* CudaGemmName(CudaGemm g) {
  switch (g) {
    case CudaGemm::kTiled: return "tiled";
    case CudaGemm::kCublas: return "cublas";
    case CudaGemm::kCublasLt: return "cublaslt";
  }
  return "?";
}

namespace {

// OK where this build can run `g`; cublas / cublaslt need CUDA.
absl::Status Available(CudaGemm g) {
#if !KILN_HAVE_CUDA
  if (g != CudaGemm::kTiled) {
    return absl::FailedPreconditionError(
        absl::StrCat("CUDA GEMM '", CudaGemmName(g),
                     "' is not available: kiln was built without CUDA (KILN_CUDA=OFF)"));
  }
#else
  (void)g;
#endif
  return absl::OkStatus();
}

}  // namespace

absl::Status SetCudaGemm(CudaGemm g) {
  if (absl::Status s = Available(g); !s.ok()) return s;
  g_gemm.store(static_cast<int>(g));
  return absl::OkStatus();
}

absl::Status SetCudaGemm(absl::string_view name) {
  absl::StatusOr<CudaGemm> g = ParseCudaGemm(name);
  if (!g.ok()) return g.status();
  return SetCudaGemm(*g);
}

absl::Status CudaGemmFromEnv() {
  if (g_gemm.load() >= 0) return absl::OkStatus();
  const char* e = std::getenv("KILN_CUDA_GEMM");
  absl::StatusOr<CudaGemm> g = CudaGemm::kTiled;
  if (e != nullptr && *e != '\0') g = ParseCudaGemm(e);
  absl::Status s = g.ok() ? Available(*g) : g.status();
  if (!s.ok()) return absl::Status(s.code(), absl::StrCat("KILN_CUDA_GEMM: ", s.message()));
  int unset = -1;  // an explicit SetCudaGemm in between wins
  g_gemm.compare_exchange_strong(unset, static_cast<int>(*g));
  return absl::OkStatus();
}

CudaGemm ActiveCudaGemm() {
  int g = g_gemm.load(std::memory_order_relaxed);
  if (g < 0) {
    const absl::Status s = CudaGemmFromEnv();
    KILN_CHECK(s.ok()) << s.message();
    g = g_gemm.load();
  }
  return static_cast<CudaGemm>(g);
}

void CountCudaGemmCall(CudaGemm g) {
  g_calls[static_cast<int>(g)].fetch_add(1, std::memory_order_relaxed);
}

int64_t CudaGemmCalls(CudaGemm g) {
  return g_calls[static_cast<int>(g)].load(std::memory_order_relaxed);
}

}  // namespace kiln
