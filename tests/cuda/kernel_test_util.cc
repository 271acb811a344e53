// Helpers of the CUDA kernel tests (kernel_test_util.h).
#include "tests/cuda/kernel_test_util.h"

#include <cmath>
#include <cstring>
#include <random>
#include <sstream>

#include "cpu/backend.h"
#include "ops/kernel_args.h"

namespace kiln::testing {

std::vector<float> RandomFloats(int64_t n, float lo, float hi, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = d(rng);
  return v;
}

namespace {
KArray ToKArray(const CpuArray& a) {
  KArray k;
  k.data = const_cast<void*>(a.data);
  k.dtype = a.dtype;
  k.ndim = static_cast<int32_t>(a.sizes.size());
  int64_t stride = 1;
  for (int d = k.ndim - 1; d >= 0; --d) {
    k.sizes[d] = a.sizes[d];
    k.strides[d] = a.strides.empty() ? stride : a.strides[d];
    stride *= a.sizes[d];
  }
  return k;
}
}  // namespace

void RunCpuKernel(Op op, std::initializer_list<CpuArray> in, std::initializer_list<CpuArray> out,
                  std::initializer_list<int64_t> iattr, std::initializer_list<double> fattr) {
  KernelArgs args;
  for (const CpuArray& a : in) args.in[args.n_in++] = ToKArray(a);
  for (const CpuArray& a : out) args.out[args.n_out++] = ToKArray(a);
  int i = 0;
  for (int64_t v : iattr) args.iattr[i++] = v;
  i = 0;
  for (double v : fattr) args.fattr[i++] = v;
  KernelFn fn = cpu::CpuKernel(op);
  ASSERT_NE(fn, nullptr) << OpName(op);
  fn(args);
}

::testing::AssertionResult SameBits(const std::vector<float>& got, const std::vector<float>& want) {
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure() << "sizes " << got.size() << " vs " << want.size();
  }
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::memcmp(&got[i], &want[i], sizeof(float)) != 0) {
      return ::testing::AssertionFailure()
             << "element " << i << ": " << got[i] << " vs " << want[i] << " (bits differ)";
    }
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult Near(const std::vector<float>& got, const std::vector<float>& want,
                                float rtol, float scale) {
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure() << "sizes " << got.size() << " vs " << want.size();
  }
  for (size_t i = 0; i < got.size(); ++i) {
    const float g = got[i], w = want[i];
    if (std::isnan(w) || std::isinf(w)) {
      if (std::isnan(w) ? std::isnan(g) : g == w) continue;
    } else if (std::fabs(g - w) <= rtol * std::fmax(std::fabs(w), scale)) {
      continue;
    }
    return ::testing::AssertionFailure() << "element " << i << ": " << g << " vs " << w
                                         << " (rtol " << rtol << ", scale " << scale << ")";
  }
  return ::testing::AssertionSuccess();
}

}  // namespace kiln::testing
