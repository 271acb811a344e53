// The CUDA runtime on a real GPU, for what only a GPU can run:
//  - the cuda device's GEMM switch (cuda/gemm_select.h): with cublas and cublaslt selected, the
//    Matmul forms the op layer sends (2-D with every transpose pair, batched a and b, a batch
//    sharing a 2-D b, transposed and strided views) and Linear (with and without bias) match
//    kiln's tiled kernel within FP32 rounding (a relative norm of 1e-5: TF32 would be ~1e-3), and
//    the cuda table's counters show which GEMM really ran;
//  - the CUDA allocator's red zones (tensor/red_zone.h): a kiln kernel writing one element past a
//    tensor's end, or one before its start, aborts at the tensor's free with the one-line report
//    (death tests in a fresh process with KILN_CUDA_REDZONE=1); an in-bounds tensor frees
//    quietly.
// Without a usable device every test is skipped with the reason, and ctest reports the binary as
// skipped (SKIP_REGULAR_EXPRESSION in tests/cuda/CMakeLists.txt), never as passed.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "cuda/gemm_select.h"
#include "cuda/kernels.h"
#include "ops/api.h"
#include "tensor/device_memory.h"
#include "tensor/tensor.h"

namespace kiln {
namespace {

const Device kGpu{Device::kCUDA, 0};

class CudaRuntime : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (CudaDeviceCount(&why) == 0) GTEST_SKIP() << "no usable CUDA device: " << why;
  }
  void TearDown() override { ASSERT_TRUE(SetCudaGemm(CudaGemm::kTiled).ok()); }
};

// ||x - y|| / ||y||.
double RelNorm(const std::vector<float>& x, const std::vector<float>& y) {
  double d = 0, n = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    d += (static_cast<double>(x[i]) - y[i]) * (static_cast<double>(x[i]) - y[i]);
    n += static_cast<double>(y[i]) * y[i];
  }
  return std::sqrt(d / n);
}

// Runs `op` (one Matmul or Linear on the GPU) with GEMM g; checks that exactly one cuda-table
// call went to g and none elsewhere, and returns the result on the host.
std::vector<float> RunWith(CudaGemm g, const std::function<Tensor()>& op) {
  EXPECT_TRUE(SetCudaGemm(g).ok());
  int64_t before[kNumCudaGemms];
  for (int i = 0; i < kNumCudaGemms; ++i) before[i] = CudaGemmCalls(static_cast<CudaGemm>(i));
  const Tensor y = op();
  EXPECT_EQ(y.device(), kGpu);
  std::vector<float> out = y.ToVector<float>();
  for (int i = 0; i < kNumCudaGemms; ++i) {
    const CudaGemm gi = static_cast<CudaGemm>(i);
    EXPECT_EQ(CudaGemmCalls(gi) - before[i], gi == g ? 1 : 0)
        << CudaGemmName(gi) << " calls with " << CudaGemmName(g) << " selected";
  }
  return out;
}

// The cuBLAS paths against the tiled kernel on one op; prints how many elements differ in bits
// (they may: other summation orders).
void ExpectCublasMatchesTiled(const std::string& what, const std::function<Tensor()>& op) {
  SCOPED_TRACE(what);
  const std::vector<float> tiled = RunWith(CudaGemm::kTiled, op);
  for (CudaGemm g : {CudaGemm::kCublas, CudaGemm::kCublasLt}) {
    const std::vector<float> got = RunWith(g, op);
    ASSERT_EQ(got.size(), tiled.size());
    const double rel = RelNorm(got, tiled);
    EXPECT_LE(rel, 1e-5) << CudaGemmName(g);
    size_t differ = 0;
    for (size_t i = 0; i < got.size(); ++i) differ += std::memcmp(&got[i], &tiled[i], 4) != 0;
    std::printf("%-44s %-8s relative %.2e, %zu of %zu elements differ in bits\n", what.c_str(),
                CudaGemmName(g), rel, differ, got.size());
  }
}

Tensor Gpu(const Shape& shape, uint64_t seed) { return Randn(shape, seed).To(kGpu); }

TEST_F(CudaRuntime, CublasMatmulMatchesTheTiledKernel) {
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      const int64_t m = 67, n = 33, k = 129;
      const Tensor a = Gpu(ta ? Shape{k, m} : Shape{m, k}, 1);
      const Tensor b = Gpu(tb ? Shape{n, k} : Shape{k, n}, 2);
      ExpectCublasMatchesTiled("2-D ta " + std::to_string(ta) + " tb " + std::to_string(tb),
                               [&] { return ops::Matmul(a, b, ta, tb); });
      // Batched a and b (attention-like), one strided-batched call.
      const Tensor ab = Gpu(ta ? Shape{3, k, m} : Shape{3, m, k}, 3);
      const Tensor bb = Gpu(tb ? Shape{3, n, k} : Shape{3, k, n}, 4);
      ExpectCublasMatchesTiled("batched ta " + std::to_string(ta) + " tb " + std::to_string(tb),
                               [&] { return ops::Matmul(ab, bb, ta, tb); });
    }
  }
  // A batch sharing a 2-D weight: one GEMM over every row (untransposed a), or one per matrix.
  const Tensor x = Gpu({2, 5, 30, 64}, 5), w = Gpu({64, 48}, 6), wt = Gpu({48, 64}, 7);
  ExpectCublasMatchesTiled("batch x 2-D b", [&] { return ops::Matmul(x, w); });
  ExpectCublasMatchesTiled("batch x 2-D b^T", [&] { return ops::Matmul(x, wt, false, true); });
  const Tensor xt = Gpu({4, 64, 30}, 8);
  ExpectCublasMatchesTiled("batch^T x 2-D b (per matrix)",
                           [&] { return ops::Matmul(xt, w, true, false); });
  // Views: a transposed view becomes a transpose flag, a strided one a dense copy.
  const Tensor big = Gpu({64, 100}, 9);
  ExpectCublasMatchesTiled("transposed view", [&] {
    return ops::Matmul(ops::Transpose(big, 0, 1), w);  // (100, 64) x (64, 48)
  });
  ExpectCublasMatchesTiled("narrowed view", [&] {
    return ops::Matmul(ops::Narrow(big, 1, 10, 64), w);  // (64, 64), row stride 100
  });
  // GPT-2 sized: a projection with K = 768.
  const Tensor h = Gpu({256, 768}, 10), proj = Gpu({768, 768}, 11);
  ExpectCublasMatchesTiled("256x768 x 768x768^T", [&] { return ops::Matmul(h, proj, false, true); });
}

TEST_F(CudaRuntime, CublasLinearMatchesTheTiledKernel) {
  const Tensor x = Gpu({37, 96}, 12), w = Gpu({80, 96}, 13), bias = Gpu({80}, 14);
  ExpectCublasMatchesTiled("Linear with bias", [&] { return ops::Linear(x, w, bias); });
  ExpectCublasMatchesTiled("Linear without bias", [&] { return ops::Linear(x, w, Tensor()); });
  // A bias large against the product: a dropped or doubled bias would show.
  const Tensor big_bias = ops::MulScalar(Gpu({80}, 15), 100.0);
  const std::vector<float> got = RunWith(CudaGemm::kCublasLt, [&] {
    return ops::Linear(x, w, big_bias);
  });
  const std::vector<float> want = ops::Linear(x.To(Device::CPU()), w.To(Device::CPU()),
                                              big_bias.To(Device::CPU()))
                                      .ToVector<float>();
  EXPECT_LE(RelNorm(got, want), 1e-5);
  const Tensor xl = Gpu({512, 768}, 16), wl = Gpu({3072, 768}, 17), bl = Gpu({3072}, 18);
  ExpectCublasMatchesTiled("Linear 512x768 -> 3072 (GPT-2 fc)",
                           [&] { return ops::Linear(xl, wl, bl); });
}

TEST_F(CudaRuntime, SelectionSwitchesBackToTheBitwiseTiledKernel) {
  // After cuBLAS, tiled again gives the CPU's bits (the tiled GEMM is bitwise the CPU's).
  const Tensor a = Randn({45, 70}, 19), b = Randn({70, 38}, 20);
  const std::vector<float> cpu = ops::Matmul(a, b).ToVector<float>();
  RunWith(CudaGemm::kCublasLt, [&] { return ops::Matmul(a.To(kGpu), b.To(kGpu)); });
  const std::vector<float> tiled =
      RunWith(CudaGemm::kTiled, [&] { return ops::Matmul(a.To(kGpu), b.To(kGpu)); });
  EXPECT_EQ(std::memcmp(tiled.data(), cpu.data(), cpu.size() * 4), 0);
}

// ---- Red zones.

// y (n) = -x (n + `extra`) through kiln's unary kernel, at y's data + `shift` elements: extra 1
// writes y[n], shift -1 writes y[-1]. x is all ones: -1.0f is the bytes 00 00 80 bf.
void NegInto(const Tensor& y, int64_t shift, int64_t extra) {
  const int64_t n = y.numel();
  const Tensor x = Full({n + extra}, 1.0, DType::kF32, kGpu);
  cuda::Unary(Op::kNeg, y.data<float>() + shift, x.data<float>(), n + extra, 0.0f,
              DeviceStream(kGpu));
}

// In a fresh process (threadsafe death tests re-run this binary), with red zones on (cached
// blocks in a release build: the after guard runs to the end of the size class, 304 bytes here).
void AllocateWriteFree(int64_t shift, int64_t extra) {
  setenv("KILN_CUDA_REDZONE", "1", 1);
  {
    const Tensor y = Tensor::Empty({100}, DType::kF32, kGpu);
    if (!DeviceRedZones(kGpu)) {
      std::fprintf(stderr, "red zones are off\n");
      std::exit(2);
    }
    NegInto(y, shift, extra);
  }  // y is freed here: its guards are checked
  std::exit(0);
}

TEST_F(CudaRuntime, RedZoneCatchesAKernelWritingPastATensorsEnd) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(AllocateWriteFree(0, 1),
               "kiln: fatal: cuda:0: red zone after a block of 400 bytes damaged: first bad byte "
               "0 bytes past its end \\(0x00, expected 0xfd\\), 4 of [0-9]+ guard bytes differ");
  EXPECT_DEATH(AllocateWriteFree(-1, 0),
               "kiln: fatal: cuda:0: red zone before a block of 400 bytes damaged: first bad byte "
               "1 bytes before its start \\(0xbf, expected 0xfd\\)");
  // In bounds: freed quietly.
  EXPECT_EXIT(AllocateWriteFree(0, 0), ::testing::ExitedWithCode(0), "");
}

// A few Matmuls (allocations of several sizes, cached blocks reused) with red zones on: the
// CPU's bits (the tiled GEMM is bitwise the CPU's), no report at any free. Exit 0 when so.
void MatmulsWithRedZones() {
  setenv("KILN_CUDA_REDZONE", "1", 1);
  const Tensor a = Randn({33, 70}, 21), b = Randn({70, 19}, 22);
  const std::vector<float> cpu = ops::Matmul(a, b).ToVector<float>();
  for (int i = 0; i < 3; ++i) {
    const std::vector<float> gpu = ops::Matmul(a.To(kGpu), b.To(kGpu)).ToVector<float>();
    if (std::memcmp(gpu.data(), cpu.data(), cpu.size() * 4) != 0) std::exit(3);
  }
  std::exit(DeviceRedZones(kGpu) ? 0 : 2);
}

TEST_F(CudaRuntime, RedZonesDoNotChangeResults) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(MatmulsWithRedZones(), ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace kiln
