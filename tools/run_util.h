// Shared glue for subcommands: parse flags, print help, turn a bad Status into one line + exit code.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cuda/gemm_select.h"
#include "tools/command.h"
#include "tools/flags.h"

namespace kiln::tools {

// Returns -1 when the command should go on, else the exit code to return (help or bad flags).
inline int ParseOrExit(FlagSet& flags, const std::vector<std::string>& args) {
  if (auto s = flags.Parse(args); !s.ok()) {
    std::fprintf(stderr, "kiln: error: %s\n", std::string(s.message()).c_str());
    return kExitUsage;
  }
  if (flags.help_requested()) {
    std::printf("%s", flags.Usage().c_str());
    return kExitOk;
  }
  return -1;
}

// "-o x" is the one short flag; FlagSet knows long flags only.
inline std::vector<std::string> ExpandShort(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (const auto& a : args) out.push_back(a == "-o" ? "--out" : a);
  return out;
}

// Prints a usage error as one line and returns the usage exit code.
inline int Usage(const std::string& message) {
  std::fprintf(stderr, "kiln: error: %s\n", message.c_str());
  return kExitUsage;
}

// Prints a failed status as one line and returns the error exit code.
inline int Fail(const absl::Status& s) {
  std::fprintf(stderr, "kiln: error: %s\n", std::string(s.message()).c_str());
  return kExitError;
}

// The --cuda-gemm flag of train / sft / generate (cuda/gemm_select.h). Without the flag,
// KILN_CUDA_GEMM is checked now so a bad value fails at once. Returns -1 when the command should
// go on, else the usage exit code after a one-line error.
inline constexpr const char* kCudaGemmHelp =
    "GEMM of Matmul / Linear on a cuda device: tiled (kiln's kernel, bitwise the CPU's, the "
    "default), cublas or cublaslt (faster, not batch invariant); cuda-sim ignores it";
inline int ApplyCudaGemmFlag(const FlagSet& flags, const std::string& value) {
  const absl::Status s = flags.WasSet("cuda_gemm") ? SetCudaGemm(value) : CudaGemmFromEnv();
  if (s.ok()) return -1;
  return Usage((flags.WasSet("cuda_gemm") ? "--cuda-gemm: " : "") + std::string(s.message()));
}

}  // namespace kiln::tools
