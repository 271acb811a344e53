// Helpers of the CUDA kernel tests: deterministic random inputs, the CPU backend's kernel of an op
// run on plain contiguous arrays (the reference the CUDA kernels are compared with), and
// comparisons (bitwise, or within a relative tolerance scaled by the values' magnitude).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "cuda/versions.h"
#include "ops/op_enum.h"
#include "tensor/dtype.h"

namespace kiln::testing {

// n floats uniform in [lo, hi), from a fixed seed.
std::vector<float> RandomFloats(int64_t n, float lo, float hi, uint32_t seed);

// One operand of a CPU kernel call: data of the given sizes and dtype, contiguous unless
// `strides` (in elements) are given.
struct CpuArray {
  const void* data;
  std::vector<int64_t> sizes;
  DType dtype = DType::kF32;
  std::vector<int64_t> strides = {};
};

// Runs the CPU backend's kernel of `op` (the active ISA path) on contiguous operands.
void RunCpuKernel(Op op, std::initializer_list<CpuArray> in, std::initializer_list<CpuArray> out,
                  std::initializer_list<int64_t> iattr = {},
                  std::initializer_list<double> fattr = {});

// Sets the process-wide kernel version of a CUDA op (cuda/versions.h) for a scope and restores the
// previous one after it.
class ScopedKernelVersion {
 public:
  ScopedKernelVersion(cuda_versions::KernelOp op, int version)
      : op_(op), old_(cuda_versions::KernelVersion(op)) {
    cuda_versions::SetKernelVersion(op, version);
  }
  ~ScopedKernelVersion() { cuda_versions::SetKernelVersion(op_, old_); }
  ScopedKernelVersion(const ScopedKernelVersion&) = delete;
  ScopedKernelVersion& operator=(const ScopedKernelVersion&) = delete;

 private:
  cuda_versions::KernelOp op_;
  int old_;
};

// Bitwise equality, NaNs included; the first difference is reported with its index.
::testing::AssertionResult SameBits(const std::vector<float>& got, const std::vector<float>& want);
// |got - want| <= rtol * max(|want|, scale) elementwise (NaN must match NaN, inf must match).
::testing::AssertionResult Near(const std::vector<float>& got, const std::vector<float>& want,
                                float rtol, float scale = 1.0f);

}  // namespace kiln::testing
