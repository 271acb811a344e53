// The process-wide kernel-version choice (cuda/versions.h): the KILN_CUDA_KERNELS syntax, its
// one-line errors, the setter, and the environment read at the first call (in fresh processes:
// threadsafe death tests re-execute the binary, so each child parses its own environment), where a
// malformed value is reported at every call, launchers included.
#include "cuda/versions.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "base/check.h"
#include "cuda/kernels.h"

namespace kiln::cuda_versions {
namespace {

std::string ErrorOf(const std::string& spec) {
  try {
    ParseKernelVersions(spec);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(CudaKernelVersions, ParsesTheSyntax) {
  EXPECT_EQ(FormatKernelVersions(ParseKernelVersions("")), "attention=v1,matmul=v1");
  EXPECT_EQ(FormatKernelVersions(ParseKernelVersions("  ")), "attention=v1,matmul=v1");
  EXPECT_EQ(FormatKernelVersions(ParseKernelVersions("attention=v2")), "attention=v2,matmul=v1");
  EXPECT_EQ(FormatKernelVersions(ParseKernelVersions("matmul=2")), "attention=v1,matmul=v2");
  EXPECT_EQ(FormatKernelVersions(ParseKernelVersions(" matmul = v2 , attention=v2")),
            "attention=v2,matmul=v2");
  // What FormatKernelVersions prints is accepted back.
  const KernelVersions v = ParseKernelVersions("attention=v2,matmul=v1");
  EXPECT_EQ(ParseKernelVersions(FormatKernelVersions(v)).Of(KernelOp::kAttention), 2);
  EXPECT_EQ(ParseKernelVersions(FormatKernelVersions(v)).Of(KernelOp::kMatmul), 1);
}

TEST(CudaKernelVersions, BadValuesAreOneLineErrorsNamingThem) {
  const std::pair<std::string, std::string> cases[] = {
      {"attention=v3",
       "KILN_CUDA_KERNELS: unknown version 'v3' for attention in 'attention=v3' (versions: v1, "
       "v2)"},
      {"matmul=v0,attention=v1", "unknown version 'v0' for matmul"},
      {"matmul=", "unknown version '' for matmul"},
      {"matmul=v22", "unknown version 'v22' for matmul"},
      {"attn=v2", "KILN_CUDA_KERNELS: unknown op 'attn' in 'attn=v2' (ops: attention, matmul)"},
      {"attention", "KILN_CUDA_KERNELS: expected op=vN, got 'attention' in 'attention'"},
      {"attention=v2,", "KILN_CUDA_KERNELS: empty entry in 'attention=v2,'"},
      {"matmul=v1,matmul=v2", "KILN_CUDA_KERNELS: matmul given twice in 'matmul=v1,matmul=v2'"},
  };
  for (const auto& [spec, want] : cases) {
    const std::string got = ErrorOf(spec);
    EXPECT_NE(got.find(want), std::string::npos) << spec << " -> " << got;
    EXPECT_EQ(got.find('\n'), std::string::npos) << got;
  }
}

TEST(CudaKernelVersions, SetterSelectsAndChecks) {
  const int old = KernelVersion(KernelOp::kMatmul);
  SetKernelVersion(KernelOp::kMatmul, 2);
  EXPECT_EQ(KernelVersion(KernelOp::kMatmul), 2);
  EXPECT_EQ(CurrentKernelVersions().Of(KernelOp::kMatmul), 2);
  SetKernelVersion(KernelOp::kMatmul, 1);
  EXPECT_EQ(KernelVersion(KernelOp::kMatmul), 1);
  EXPECT_THROW(SetKernelVersion(KernelOp::kAttention, 3), Error);
  EXPECT_THROW(SetKernelVersion(KernelOp::kAttention, 0), Error);
  SetKernelVersion(KernelOp::kMatmul, old);
}

// In a fresh process (the child of a threadsafe death test runs from main with only this test),
// the first call reads KILN_CUDA_KERNELS. Exits with the number of checks that failed.
[[noreturn]] void ChildWithEnvironment(const char* value, int want_attention, int want_matmul) {
  setenv("KILN_CUDA_KERNELS", value, 1);
  int bad = 0;
  bad += KernelVersion(KernelOp::kAttention) != want_attention;
  bad += KernelVersion(KernelOp::kMatmul) != want_matmul;
  std::exit(bad);
}

// With a malformed value every call throws the same one-line error (printed to stderr): the
// version queries and the launchers. Exits with the number of calls that threw it.
[[noreturn]] void ChildWithMalformedEnvironment(const char* value) {
  setenv("KILN_CUDA_KERNELS", value, 1);
  int threw = 0;
  std::string first;
  auto run = [&](auto&& fn) {
    try {
      fn();
    } catch (const Error& e) {
      if (first.empty()) first = e.what();
      threw += first == e.what();
    }
  };
  run([] { KernelVersion(KernelOp::kAttention); });
  run([] { KernelVersion(KernelOp::kMatmul); });
  std::vector<float> x(16);
  run([&] { cuda_sim::Matmul(x.data(), x.data(), x.data(), 2, 2, 2, false, false, nullptr); });
  run([&] {
    cuda_sim::Attention(x.data(), nullptr, x.data(), x.data(), x.data(), nullptr, 1, 1, 1, 1, 1, 4,
                        1.0f, nullptr);
  });
  std::fprintf(stderr, "%s\n", first.c_str());
  std::exit(threw);
}

TEST(CudaKernelVersionsDeathTest, EnvironmentIsReadAtTheFirstCall) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(ChildWithEnvironment("", 1, 1), ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(ChildWithEnvironment("matmul=v2", 1, 2), ::testing::ExitedWithCode(0), "");
  EXPECT_EXIT(ChildWithEnvironment("attention=v2,matmul=v2", 2, 2), ::testing::ExitedWithCode(0),
              "");
  EXPECT_EXIT(ChildWithMalformedEnvironment("attention=v3"), ::testing::ExitedWithCode(4),
              "KILN_CUDA_KERNELS: unknown version 'v3' for attention in 'attention=v3'");
  EXPECT_EXIT(ChildWithMalformedEnvironment("matmul=fast"), ::testing::ExitedWithCode(4),
              "KILN_CUDA_KERNELS: unknown version 'fast' for matmul in 'matmul=fast'");
}

}  // namespace
}  // namespace kiln::cuda_versions
