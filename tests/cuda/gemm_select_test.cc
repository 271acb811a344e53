// The CUDA GEMM switch (cuda/gemm_select.h) without a GPU: parsing and its one-line errors,
// KILN_CUDA_GEMM read in a fresh process (a threadsafe death-test child re-runs the binary, so
// the selection starts unset there), a bad value failing at the first use, and the cuda-sim
// device ignoring the selection (its Matmul / Linear stay kiln's tiled kernels: bitwise the CPU's,
// and the cuda table's counters do not move). The cuBLAS paths themselves run in
// cuda_runtime_device_test on a GPU.
#include "cuda/gemm_select.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "base/check.h"
#include "ops/api.h"
#include "tensor/tensor.h"

namespace kiln {
namespace {

TEST(CudaGemmSelect, ParsesTheThreeNamesAndRejectsOthers) {
  for (CudaGemm g : {CudaGemm::kTiled, CudaGemm::kCublas, CudaGemm::kCublasLt}) {
    absl::StatusOr<CudaGemm> parsed = ParseCudaGemm(CudaGemmName(g));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, g);
  }
  for (const char* bad : {"", "Tiled", "cuBLAS", "cublas-lt", "tf32"}) {
    absl::StatusOr<CudaGemm> parsed = ParseCudaGemm(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().message(),
              std::string("unknown CUDA GEMM '") + bad + "' (expected tiled, cublas or cublaslt)");
  }
  EXPECT_FALSE(SetCudaGemm("cublas_lt").ok());
}

TEST(CudaGemmSelect, SettingCublasNeedsACudaBuild) {
  const absl::Status s = SetCudaGemm(CudaGemm::kCublas);
#if KILN_HAVE_CUDA
  EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_EQ(ActiveCudaGemm(), CudaGemm::kCublas);
#else
  EXPECT_EQ(s.message(),
            "CUDA GEMM 'cublas' is not available: kiln was built without CUDA (KILN_CUDA=OFF)");
#endif
  ASSERT_TRUE(SetCudaGemm("tiled").ok());
  EXPECT_EQ(ActiveCudaGemm(), CudaGemm::kTiled);
}

// Runs `body` in a fresh copy of this binary (nothing selected yet) and expects exit code 0.
#define EXPECT_IN_FRESH_PROCESS(body)                                         \
  do {                                                                        \
    GTEST_FLAG_SET(death_test_style, "threadsafe");                           \
    EXPECT_EXIT({ body; std::exit(0); }, ::testing::ExitedWithCode(0), ""); \
  } while (0)

void ExpectEq(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "failed: %s\n", what);
    std::exit(1);
  }
}

TEST(CudaGemmSelect, EnvironmentVariableIsReadAtTheFirstUse) {
  EXPECT_IN_FRESH_PROCESS({
    setenv("KILN_CUDA_GEMM", "tiled", 1);
    ExpectEq(ActiveCudaGemm() == CudaGemm::kTiled, "KILN_CUDA_GEMM=tiled");
  });
  EXPECT_IN_FRESH_PROCESS({
    unsetenv("KILN_CUDA_GEMM");
    ExpectEq(CudaGemmFromEnv().ok() && ActiveCudaGemm() == CudaGemm::kTiled, "default tiled");
  });
#if KILN_HAVE_CUDA
  EXPECT_IN_FRESH_PROCESS({
    setenv("KILN_CUDA_GEMM", "cublaslt", 1);
    ExpectEq(ActiveCudaGemm() == CudaGemm::kCublasLt, "KILN_CUDA_GEMM=cublaslt");
  });
  // An explicit selection wins over the environment.
  EXPECT_IN_FRESH_PROCESS({
    setenv("KILN_CUDA_GEMM", "cublaslt", 1);
    ExpectEq(SetCudaGemm(CudaGemm::kCublas).ok(), "SetCudaGemm");
    ExpectEq(CudaGemmFromEnv().ok() && ActiveCudaGemm() == CudaGemm::kCublas, "explicit wins");
  });
#else
  EXPECT_IN_FRESH_PROCESS({
    setenv("KILN_CUDA_GEMM", "cublaslt", 1);
    const absl::Status s = CudaGemmFromEnv();
    ExpectEq(s.message() == "KILN_CUDA_GEMM: CUDA GEMM 'cublaslt' is not available: kiln was "
                            "built without CUDA (KILN_CUDA=OFF)",
             "no-CUDA build error");
  });
#endif
}

TEST(CudaGemmSelect, BadEnvironmentValueIsAOneLineErrorAtTheFirstUse) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("KILN_CUDA_GEMM", "fast", 1);
        const absl::Status s = CudaGemmFromEnv();
        std::fprintf(stderr, "status: %s\n", std::string(s.message()).c_str());
        try {
          ActiveCudaGemm();
        } catch (const Error& e) {
          std::fprintf(stderr, "thrown: %s\n", e.what());
          std::exit(3);
        }
        std::exit(0);
      },
      ::testing::ExitedWithCode(3),
      "status: KILN_CUDA_GEMM: unknown CUDA GEMM 'fast' \\(expected tiled, cublas or "
      "cublaslt\\)\nthrown: .*KILN_CUDA_GEMM: unknown CUDA GEMM 'fast'");
}

bool SameBits(const Tensor& a, const Tensor& b) {
  const std::vector<float> x = a.ToVector<float>(), y = b.ToVector<float>();
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

TEST(CudaGemmSelect, CudaSimIgnoresTheSelection) {
  const Device sim{Device::kCudaSim, 0};
  const Tensor a = Randn({2, 9, 33}, 1), b = Randn({2, 33, 17}, 2), w = Randn({9, 17}, 3);
  const Tensor x = Randn({9, 33}, 4), wl = Randn({11, 33}, 5), bias = Randn({11}, 6);
  const Tensor want_mm = ops::Matmul(a, b, false, false), want_t = ops::Matmul(a, w, true, false);
  const Tensor want_lin = ops::Linear(x, wl, bias);
#if KILN_HAVE_CUDA
  const CudaGemm picks[] = {CudaGemm::kCublas, CudaGemm::kCublasLt};
#else
  const CudaGemm picks[] = {CudaGemm::kTiled};
#endif
  for (CudaGemm g : picks) {
    ASSERT_TRUE(SetCudaGemm(g).ok());
    int64_t calls[kNumCudaGemms];
    for (int i = 0; i < kNumCudaGemms; ++i) calls[i] = CudaGemmCalls(static_cast<CudaGemm>(i));
    // kiln's tiled kernel through the interpreter: bitwise the CPU GEMM.
    EXPECT_TRUE(SameBits(ops::Matmul(a.To(sim), b.To(sim), false, false), want_mm)) << CudaGemmName(g);
    EXPECT_TRUE(SameBits(ops::Matmul(a.To(sim), w.To(sim), true, false), want_t)) << CudaGemmName(g);
    EXPECT_TRUE(SameBits(ops::Linear(x.To(sim), wl.To(sim), bias.To(sim)), want_lin));
    for (int i = 0; i < kNumCudaGemms; ++i) {
      EXPECT_EQ(CudaGemmCalls(static_cast<CudaGemm>(i)), calls[i]) << "the cuda table ran";
    }
  }
  ASSERT_TRUE(SetCudaGemm(CudaGemm::kTiled).ok());
}

}  // namespace
}  // namespace kiln
