// Tests of the CUDA kernel interpreter itself (cuda/interp/): small kernels in the portable subset,
// compiled here as C++ into kiln::cuda_sim, checked against results computed on the host: 3-D
// indices, barriers, every shuffle kind (full and partial widths), ballots / votes with partial
// masks, atomics, static and dynamic shared memory, reverse mode, both fiber back ends, and the
// deadlock / misuse errors.
#define KILN_CUDA_SIM 1
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "base/check.h"
#include "cuda/portable.h"

namespace kiln::cuda_sim {
namespace {

// ---- kernels --------------------------------------------------------------------------------

__global__ void Indices(unsigned* out) {
  const unsigned bx = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  const unsigned tx = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const unsigned n = blockDim.x * blockDim.y * blockDim.z;
  unsigned* o = out + (bx * n + tx) * 6;
  o[0] = threadIdx.x;
  o[1] = threadIdx.y;
  o[2] = threadIdx.z;
  o[3] = blockIdx.x;
  o[4] = blockIdx.y;
  o[5] = blockIdx.z;
}

// out[t] = in[n - 1 - t] through shared memory: needs the barrier.
__global__ void ReverseBlock(const float* in, float* out) {
  KILN_SHARED(float, buf, [1024]);
  const unsigned n = blockDim.x * blockDim.y * blockDim.z;
  const unsigned t = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  buf[t] = in[blockIdx.x * n + t];
  __syncthreads();
  out[blockIdx.x * n + t] = buf[n - 1 - t];
}

// Same with dynamic shared memory.
__global__ void ReverseDynamic(const float* in, float* out, int n) {
  KILN_DYNAMIC_SHARED(float, buf);
  const int t = threadIdx.x;
  buf[t] = in[t];
  __syncthreads();
  out[t] = buf[n - 1 - t];
}

// out[kind * n + t]: shfl from lane 3, up 2, down 5, xor 6, each at width w.
__global__ void Shuffles(int* out, int w) {
  const int t = threadIdx.x, n = blockDim.x;
  const int v = 100 + t;
  out[0 * n + t] = __shfl_sync(0xffffffffu, v, 3, w);
  out[1 * n + t] = __shfl_up_sync(0xffffffffu, v, 2, w);
  out[2 * n + t] = __shfl_down_sync(0xffffffffu, v, 5, w);
  out[3 * n + t] = __shfl_xor_sync(0xffffffffu, v, 6, w);
}

__global__ void ShuffleFloatSum(const float* in, float* out) {
  float v = in[threadIdx.x];
  for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffffu, v, o);
  out[threadIdx.x] = v;
}

// Lanes 0-15 and 16-31 vote separately, each with its own half mask.
__global__ void Votes(unsigned* out) {
  const unsigned lane = threadIdx.x % 32;
  const unsigned mask = lane < 16 ? 0x0000ffffu : 0xffff0000u;
  const int pred = lane % 3 == 0;
  out[threadIdx.x * 3 + 0] = __ballot_sync(mask, pred);
  out[threadIdx.x * 3 + 1] = __any_sync(mask, lane == 20);
  out[threadIdx.x * 3 + 2] = __all_sync(mask, lane < 20);
  __syncwarp(mask);
}

__global__ void Atomics(int* counter, int* maxv, unsigned long long* cas_sum, float* fsum,
                        int* exch) {
  const int g = blockIdx.x * blockDim.x + threadIdx.x;
  atomicAdd(counter, 1);
  atomicMax(maxv, (g * 7919) % 1000);
  atomicAdd(fsum, 0.5f);
  // A CAS loop adding g, as code that builds its own atomic does.
  unsigned long long old = *cas_sum, seen;
  do {
    seen = old;
    old = atomicCAS(cas_sum, seen, seen + static_cast<unsigned long long>(g));
  } while (old != seen);
  atomicExch(exch, 42);
}

// Records the order in which a block's threads first run.
__global__ void Order(int* ticket, int* first) {
  const int t = atomicAdd(&ticket[blockIdx.x], 1);
  first[blockIdx.x * blockDim.x + threadIdx.x] = t;
}

__global__ void ReadBeforeWrite(float* out) {
  KILN_SHARED(float, fresh, [32]);
  out[threadIdx.x] = fresh[threadIdx.x];
}

__global__ void HalfRoundTrip(const float* in, float* h, float* b) {
  const int t = threadIdx.x;
  const __half hv = __float2half(in[t]);
  const __nv_bfloat16 bv = __float2bfloat16(in[t]);
  h[t] = __half2float(hv);
  b[t] = __bfloat162float(bv);
}

__global__ void BarrierInBranch(float* out) {
  if (threadIdx.x < 16) {
    __syncthreads();
  }
  out[threadIdx.x] = 1.0f;
}

__global__ void ShuffleOutsideMask(int* out) {
  // Lane 0 reads lane 20, which is not in the mask.
  if (threadIdx.x < 16) out[threadIdx.x] = __shfl_sync(0x0000ffffu, 1, 20);
}

__global__ void MaskWithoutCaller(int* out) {
  out[threadIdx.x] = __shfl_sync(0x1u, 1, 0);
}

// ---- helpers --------------------------------------------------------------------------------

// Restores the interpreter's global settings a test changed.
class InterpTest : public ::testing::Test {
 protected:
  void TearDown() override {
    SetReverseMode(false);
    SetSimThreads(0);
    SetFiberBackend(AsmFibersAvailable() ? FiberBackend::kAsm : FiberBackend::kUcontext);
  }
};

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

// ---- tests ----------------------------------------------------------------------------------

TEST_F(InterpTest, ThreeDimensionalIndices) {
  const dim3 grid(3, 2, 2), block(4, 3, 2);
  const unsigned nb = 12, nt = 24;
  std::vector<unsigned> out(nb * nt * 6, 999);
  KILN_LAUNCH(Indices, grid, block, 0, nullptr, out.data());
  for (unsigned bz = 0; bz < 2; ++bz)
    for (unsigned by = 0; by < 2; ++by)
      for (unsigned bx = 0; bx < 3; ++bx)
        for (unsigned tz = 0; tz < 2; ++tz)
          for (unsigned ty = 0; ty < 3; ++ty)
            for (unsigned tx = 0; tx < 4; ++tx) {
              const unsigned b = bx + 3 * (by + 2 * bz), t = tx + 4 * (ty + 3 * tz);
              const unsigned* o = &out[(b * nt + t) * 6];
              EXPECT_EQ(o[0], tx);
              EXPECT_EQ(o[1], ty);
              EXPECT_EQ(o[2], tz);
              EXPECT_EQ(o[3], bx);
              EXPECT_EQ(o[4], by);
              EXPECT_EQ(o[5], bz);
            }
}

TEST_F(InterpTest, BarrierOrdersSharedMemory) {
  for (bool reverse : {false, true}) {
    SetReverseMode(reverse);
    const dim3 block(8, 4, 2);  // 64 threads in 3 dims
    const int blocks = 5, n = 64;
    std::vector<float> in(blocks * n), out(blocks * n, -1.0f);
    for (int i = 0; i < blocks * n; ++i) in[i] = static_cast<float>(i) * 0.5f;
    KILN_LAUNCH(ReverseBlock, dim3(blocks), block, 0, nullptr, in.data(), out.data());
    for (int b = 0; b < blocks; ++b)
      for (int t = 0; t < n; ++t) ASSERT_EQ(out[b * n + t], in[b * n + n - 1 - t]) << reverse;
  }
}

TEST_F(InterpTest, DynamicSharedMemory) {
  const int n = 200;  // not a multiple of the warp size
  std::vector<float> in(n), out(n);
  for (int i = 0; i < n; ++i) in[i] = static_cast<float>(i * i);
  KILN_LAUNCH(ReverseDynamic, dim3(1), dim3(n), n * sizeof(float), nullptr, in.data(), out.data(),
              n);
  for (int t = 0; t < n; ++t) EXPECT_EQ(out[t], in[n - 1 - t]);
}

TEST_F(InterpTest, ShufflesOfEachKindAndWidth) {
  for (int w : {32, 16, 8, 4, 1}) {
    const int n = 64;
    std::vector<int> out(4 * n, -1);
    KILN_LAUNCH(Shuffles, dim3(1), dim3(n), 0, nullptr, out.data(), w);
    for (int t = 0; t < n; ++t) {
      const int lane = t % 32, base = t - lane, seg = lane & ~(w - 1), in_seg = lane & (w - 1);
      const int own = 100 + t;
      EXPECT_EQ(out[0 * n + t], 100 + base + seg + (3 & (w - 1))) << "shfl w=" << w << " t=" << t;
      EXPECT_EQ(out[1 * n + t], in_seg >= 2 ? own - 2 : own) << "up w=" << w << " t=" << t;
      EXPECT_EQ(out[2 * n + t], in_seg + 5 < w ? own + 5 : own) << "down w=" << w << " t=" << t;
      const int x = lane ^ 6;
      EXPECT_EQ(out[3 * n + t], (x & ~(w - 1)) > seg ? own : 100 + base + x)
          << "xor w=" << w << " t=" << t;
    }
  }
}

TEST_F(InterpTest, ButterflySumOfFloats) {
  std::vector<float> in(32), out(32);
  float want = 0;
  for (int i = 0; i < 32; ++i) in[i] = 1.0f / static_cast<float>(i + 1);
  // The butterfly's order, done by hand for lane 0: pairs, then pairs of pairs...
  std::vector<float> v = in;
  for (int o = 16; o > 0; o /= 2) {
    std::vector<float> nv(32);
    for (int l = 0; l < 32; ++l) nv[l] = v[l] + v[l ^ o];
    v = nv;
  }
  want = v[0];
  KILN_LAUNCH(ShuffleFloatSum, dim3(1), dim3(32), 0, nullptr, in.data(), out.data());
  for (int l = 0; l < 32; ++l) EXPECT_EQ(out[l], v[l]);
  EXPECT_EQ(out[0], want);
}

TEST_F(InterpTest, VotesWithPartialMasks) {
  const int n = 64;
  std::vector<unsigned> out(n * 3);
  KILN_LAUNCH(Votes, dim3(1), dim3(n), 0, nullptr, out.data());
  unsigned lo = 0, hi = 0;
  for (unsigned l = 0; l < 32; ++l) {
    if (l % 3 == 0) (l < 16 ? lo : hi) |= 1u << l;
  }
  for (int t = 0; t < n; ++t) {
    const unsigned lane = t % 32;
    EXPECT_EQ(out[t * 3 + 0], lane < 16 ? lo : hi) << t;
    EXPECT_EQ(out[t * 3 + 1], lane < 16 ? 0u : 1u) << t;  // lane 20 is in the upper half
    EXPECT_EQ(out[t * 3 + 2], lane < 16 ? 1u : 0u) << t;
  }
}

TEST_F(InterpTest, AtomicsAcrossParallelBlocks) {
  SetSimThreads(4);
  const int blocks = 16, threads = 96;
  int counter = 0, maxv = -1, exch = 0;
  unsigned long long cas_sum = 0;
  float fsum = 0;
  KILN_LAUNCH(Atomics, dim3(blocks), dim3(threads), 0, nullptr, &counter, &maxv, &cas_sum, &fsum,
              &exch);
  const int total = blocks * threads;
  int want_max = 0;
  for (int g = 0; g < total; ++g) want_max = std::max(want_max, (g * 7919) % 1000);
  EXPECT_EQ(counter, total);
  EXPECT_EQ(maxv, want_max);
  EXPECT_EQ(cas_sum, static_cast<unsigned long long>(total) * (total - 1) / 2);
  EXPECT_EQ(fsum, 0.5f * total);  // exact: halves up to 768 are representable
  EXPECT_EQ(exch, 42);
}

TEST_F(InterpTest, ReverseModeRunsLastThreadFirst) {
  const int blocks = 3, n = 70;  // a partial last warp
  for (bool reverse : {false, true}) {
    SetReverseMode(reverse);
    std::vector<int> ticket(blocks, 0), first(blocks * n, -1);
    KILN_LAUNCH(Order, dim3(blocks), dim3(n), 0, nullptr, ticket.data(), first.data());
    for (int b = 0; b < blocks; ++b)
      for (int t = 0; t < n; ++t) EXPECT_EQ(first[b * n + t], reverse ? n - 1 - t : t);
  }
}

TEST_F(InterpTest, SharedArraysStartPoisoned) {
  std::vector<float> out(32, 0.0f);
  KILN_LAUNCH(ReadBeforeWrite, dim3(2), dim3(32), 0, nullptr, out.data());
  for (float v : out) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    EXPECT_EQ(bits, 0xffffffffu);  // a NaN: reading unwritten shared memory is visible
  }
}

TEST_F(InterpTest, HalfAndBfloat16Conversions) {
  std::vector<float> in = {1.0f, -2.5f, 3.14159265f, 65504.0f, 1e-8f, 1.00390625f};
  std::vector<float> h(in.size()), b(in.size());
  KILN_LAUNCH(HalfRoundTrip, dim3(1), dim3(static_cast<unsigned>(in.size())), 0, nullptr,
              in.data(), h.data(), b.data());
  for (size_t i = 0; i < in.size(); ++i) {
    EXPECT_EQ(h[i], HalfBitsToFloat(FloatToHalfBits(in[i])));
    EXPECT_EQ(b[i], Bf16BitsToFloat(FloatToBf16Bits(in[i])));
  }
  EXPECT_EQ(h[2], 3.140625f);
  EXPECT_EQ(b[5], 1.0f);  // ties to even
}

TEST_F(InterpTest, UcontextBackendGivesTheSameResults) {
  SetFiberBackend(FiberBackend::kUcontext);
  const dim3 block(32, 2, 1);
  std::vector<float> in(64 * 2), out(64 * 2);
  for (int i = 0; i < 128; ++i) in[i] = static_cast<float>(i);
  KILN_LAUNCH(ReverseBlock, dim3(2), block, 0, nullptr, in.data(), out.data());
  for (int b = 0; b < 2; ++b)
    for (int t = 0; t < 64; ++t) EXPECT_EQ(out[b * 64 + t], in[b * 64 + 63 - t]);
  std::vector<int> sh(4 * 32);
  KILN_LAUNCH(Shuffles, dim3(1), dim3(32), 0, nullptr, sh.data(), 32);
  EXPECT_EQ(sh[2 * 32 + 0], 105);
}

TEST_F(InterpTest, BarrierNotReachedByAllIsADeadlock) {
  std::vector<float> out(64);
  const std::string e =
      ErrorOf([&] { KILN_LAUNCH(BarrierInBranch, dim3(1), dim3(64), 0, nullptr, out.data()); });
  EXPECT_NE(e.find("kernel 'BarrierInBranch'"), std::string::npos) << e;
  EXPECT_NE(e.find("deadlock: __syncthreads (interp_test.cc:"), std::string::npos) << e;
  EXPECT_NE(e.find("reached by 16 of 64 threads"), std::string::npos) << e;
  EXPECT_NE(e.find("has exited"), std::string::npos) << e;
}

TEST_F(InterpTest, ShuffleFromALaneOutsideTheMaskIsAnError) {
  std::vector<int> out(32);
  const std::string e = ErrorOf(
      [&] { KILN_LAUNCH(ShuffleOutsideMask, dim3(1), dim3(32), 0, nullptr, out.data()); });
  EXPECT_NE(e.find("kernel 'ShuffleOutsideMask'"), std::string::npos) << e;
  EXPECT_NE(e.find("lane 0 reads lane 20, which is not in mask 0xffff"), std::string::npos) << e;
}

TEST_F(InterpTest, MaskWithoutTheCallingLaneIsAnError) {
  std::vector<int> out(32);
  const std::string e = ErrorOf(
      [&] { KILN_LAUNCH(MaskWithoutCaller, dim3(1), dim3(32), 0, nullptr, out.data()); });
  EXPECT_NE(e.find("does not include the calling lane"), std::string::npos) << e;
}

TEST_F(InterpTest, BadLaunchConfigurationsAreRefused) {
  std::vector<unsigned> out(6 * 2048);
  EXPECT_THROW(KILN_LAUNCH(Indices, dim3(1), dim3(2048), 0, nullptr, out.data()), Error);
  EXPECT_THROW(KILN_LAUNCH(Indices, dim3(0), dim3(32), 0, nullptr, out.data()), Error);
  std::vector<float> in(8), o(8);
  EXPECT_THROW(KILN_LAUNCH(ReverseDynamic, dim3(1), dim3(8), 1 << 20, nullptr, in.data(),
                           o.data(), 8),
               Error);
}

TEST_F(InterpTest, AfterAnErrorTheNextLaunchWorks) {
  std::vector<float> out(64);
  EXPECT_THROW(KILN_LAUNCH(BarrierInBranch, dim3(4), dim3(64), 0, nullptr, out.data()), Error);
  std::vector<float> in(64 * 4), r(64 * 4);
  for (int i = 0; i < 256; ++i) in[i] = static_cast<float>(i);
  KILN_LAUNCH(ReverseBlock, dim3(4), dim3(64), 0, nullptr, in.data(), r.data());
  EXPECT_EQ(r[0], 63.0f);
  EXPECT_EQ(r[255], 192.0f);
}

TEST_F(InterpTest, FullSizeBlocksManyTimes) {
  // 1024-thread blocks exercise the fiber stacks; repeated launches their reuse.
  std::vector<float> in(1024 * 8), out(1024 * 8);
  for (int i = 0; i < 1024 * 8; ++i) in[i] = static_cast<float>(i % 977);
  for (int rep = 0; rep < 3; ++rep) {
    KILN_LAUNCH(ReverseBlock, dim3(8), dim3(1024), 0, nullptr, in.data(), out.data());
    for (int b = 0; b < 8; ++b) ASSERT_EQ(out[b * 1024], in[b * 1024 + 1023]);
  }
}

}  // namespace
}  // namespace kiln::cuda_sim
