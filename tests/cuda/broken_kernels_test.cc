// Three deliberately broken kernels (issue 7, point 2), each caught by the interpreter:
//  - a missing __syncthreads: the result is wrong (the interpreter runs each thread up to its next
//    barrier, so a read of a neighbour's shared slot sees poison or nothing), and reverse mode
//    catches the variant that happens to work in forward order;
//  - an out-of-bounds shared-memory write: lands in a red zone; in ASan builds ASan reports the
//    faulting line (a death test), otherwise the red-zone check at the block's end throws;
//  - a divergent shuffle: half the warp never reaches it, reported as a deadlock naming the kernel.
// The correct versions pass in both orders, so each test fails if the interpreter stops catching
// the bug, not just if the kernel changes.
#define KILN_CUDA_SIM 1
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "base/check.h"
#include "cuda/interp/sanitizer.h"
#include "cuda/portable.h"

namespace kiln::cuda_sim {
namespace {

// out[t] = in[t] + in[t - 1] (t > 0) through shared memory; kSync says whether the barrier is
// there.
template <bool kSync>
__global__ void NeighbourSum(const float* in, float* out) {
  KILN_SHARED(float, buf, [128]);
  const int t = threadIdx.x;
  buf[t] = in[t];
  if (kSync) __syncthreads();
  out[t] = t > 0 ? buf[t] + buf[t - 1] : buf[t];
}

// The same reading the next slot instead of the previous one.
template <bool kSync>
__global__ void NextSum(const float* in, float* out) {
  KILN_SHARED(float, buf, [128]);
  const int t = threadIdx.x, n = blockDim.x;
  buf[t] = in[t];
  if (kSync) __syncthreads();
  out[t] = t + 1 < n ? buf[t] + buf[t + 1] : buf[t];
}

// Writes one element past its 64-float shared array, through a pointer (as most kernels index
// shared memory; an overrun of the array itself UBSan's bounds check reports first).
__global__ void SharedOverrun(float* out) {
  KILN_SHARED(float, tile, [64]);
  const int t = threadIdx.x;
  float* row = tile;
  row[t] = static_cast<float>(t);  // launched with 65 threads: thread 64 writes tile[64]
  __syncthreads();
  out[t] = tile[t < 64 ? t : 0];
}

// Lanes 16-31 skip the shuffle: the lanes that call it wait for them forever.
__global__ void DivergentShuffle(const float* in, float* out) {
  float v = in[threadIdx.x];
  if (threadIdx.x % 32 < 16) v += __shfl_down_sync(0xffffffffu, v, 1);
  out[threadIdx.x] = v;
}

__global__ void ConvergentShuffle(const float* in, float* out) {
  float v = in[threadIdx.x];
  const float d = __shfl_down_sync(0xffffffffu, v, 1);
  if (threadIdx.x % 32 < 16) v += d;
  out[threadIdx.x] = v;
}

class BrokenKernels : public ::testing::Test {
 protected:
  void TearDown() override { SetReverseMode(false); }
};

std::vector<float> Iota(int n) {
  std::vector<float> v(n);
  for (int i = 0; i < n; ++i) v[i] = static_cast<float>(i + 1);
  return v;
}

std::vector<float> RunKernel(void (*k)(const float*, float*), const char* name, const std::vector<float>& in, bool reverse) {
  SetReverseMode(reverse);
  std::vector<float> out(in.size(), 0.0f);
  Launch(name, __FILE__, __LINE__, k, dim3(1), dim3(static_cast<unsigned>(in.size())), 0, nullptr,
         in.data(), out.data());
  return out;
}

TEST_F(BrokenKernels, MissingSyncthreadsIsExposed) {
  const int n = 128;
  const std::vector<float> in = Iota(n);
  std::vector<float> prev(n), next(n);
  for (int t = 0; t < n; ++t) {
    prev[t] = t > 0 ? in[t] + in[t - 1] : in[t];
    next[t] = t + 1 < n ? in[t] + in[t + 1] : in[t];
  }
  // The correct kernels are right in both orders.
  for (bool reverse : {false, true}) {
    EXPECT_EQ(RunKernel(NeighbourSum<true>, "NeighbourSum<true>", in, reverse), prev);
    EXPECT_EQ(RunKernel(NextSum<true>, "NextSum<true>", in, reverse), next);
  }
  // Reading slot t-1 works by luck in forward order (thread t-1 ran first, to its end); reverse
  // order runs thread t first, which reads the poison the arena holds before anyone wrote.
  EXPECT_EQ(RunKernel(NeighbourSum<false>, "NeighbourSum<false>", in, false), prev);
  EXPECT_NE(RunKernel(NeighbourSum<false>, "NeighbourSum<false>", in, true), prev);
  // Reading slot t+1 is caught in forward order already, and so is the reverse one for t-1.
  EXPECT_NE(RunKernel(NextSum<false>, "NextSum<false>", in, false), next);
  const std::vector<float> r = RunKernel(NeighbourSum<false>, "NeighbourSum<false>", in, true);
  EXPECT_TRUE(std::isnan(r[n - 1])) << "the last thread ran first and read unwritten memory";
}

#if KILN_SIM_ASAN
TEST_F(BrokenKernels, SharedOverrunIsReportedByAsanAtTheKernelsLine) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  std::vector<float> out(65);
  // ASan's report names the poisoned red zone and the kernel's frame in this file.
  EXPECT_DEATH(Launch("SharedOverrun", __FILE__, __LINE__, SharedOverrun, dim3(1), dim3(65), 0,
                      nullptr, out.data()),
               "use-after-poison(.|\n)*SharedOverrun(.|\n)*broken_kernels_test.cc");
}
#else
TEST_F(BrokenKernels, SharedOverrunIsReportedByTheRedZoneCheck) {
  std::vector<float> out(65);
  std::string e;
  try {
    KILN_LAUNCH(SharedOverrun, dim3(1), dim3(65), 0, nullptr, out.data());
  } catch (const Error& err) {
    e = err.what();
  }
  EXPECT_NE(e.find("kernel 'SharedOverrun'"), std::string::npos) << e;
  EXPECT_NE(e.find("0 bytes past the end of 'tile' (256 bytes)"), std::string::npos) << e;
  // 64 threads stay inside the array: no report.
  KILN_LAUNCH(SharedOverrun, dim3(1), dim3(64), 0, nullptr, out.data());
  EXPECT_EQ(out[63], 63.0f);
}
#endif

TEST_F(BrokenKernels, DivergentShuffleIsADeadlockNamingTheKernel) {
  const std::vector<float> in = Iota(64);
  for (bool reverse : {false, true}) {
    SetReverseMode(reverse);
    std::vector<float> out(64);
    std::string e;
    try {
      KILN_LAUNCH(DivergentShuffle, dim3(1), dim3(64), 0, nullptr, in.data(), out.data());
    } catch (const Error& err) {
      e = err.what();
    }
    EXPECT_NE(e.find("kernel 'DivergentShuffle'"), std::string::npos) << e;
    EXPECT_NE(e.find("deadlock"), std::string::npos) << e;
    EXPECT_NE(e.find("__shfl_down_sync (broken_kernels_test.cc:"), std::string::npos) << e;
    EXPECT_NE(e.find("lane 16 has exited"), std::string::npos) << e;
    // The fixed kernel (every lane shuffles, half use the result) runs.
    KILN_LAUNCH(ConvergentShuffle, dim3(1), dim3(64), 0, nullptr, in.data(), out.data());
    EXPECT_EQ(out[0], in[0] + in[1]);
    EXPECT_EQ(out[16], in[16]);
  }
}

}  // namespace
}  // namespace kiln::cuda_sim
