// cuda-sim memory under AddressSanitizer: tensors on the cuda-sim device live in the host
// allocator, which in ASan builds hands out exact-size blocks that are never reused, so ASan's own
// red zones sit right after a tensor's bytes. An interpreted CUDA kernel launched on a cuda-sim
// tensor that writes one element past its end is therefore reported by ASan at the kernel's line
// (a death test). Other builds have no such check for host memory (the caching allocator rounds
// blocks up to their size class): there the test is skipped, and ctest reports the binary as
// skipped (SKIP_REGULAR_EXPRESSION in tests/cuda/CMakeLists.txt), not passed. The CUDA device's
// own red zones (tensor/red_zone.h) are tested in cuda_runtime_device_test on a GPU.
#define KILN_CUDA_SIM 1
#include <gtest/gtest.h>

#include <cstdint>

#include "cuda/interp/sanitizer.h"
#include "cuda/portable.h"
#include "tensor/device_memory.h"
#include "tensor/tensor.h"

namespace kiln::cuda_sim {
namespace {

#if KILN_SIM_ASAN
// y[i] = 2 for i <= n: the thread with i == n writes one element past y's n.
__global__ void WritePastEnd(float* y, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i <= n) y[i] = 2.0f;
}

void LaunchWritePastEnd(const Tensor& y) {
  KILN_LAUNCH(WritePastEnd, dim3(1), dim3(128), 0, DeviceStream(y.device()), y.data<float>(),
              y.numel());
}
#endif

TEST(CudaSimAsan, KernelWritingPastATensorsEndIsReportedByAsan) {
#if KILN_SIM_ASAN
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const Tensor y = Tensor::Empty({100}, DType::kF32, Device{Device::kCudaSim, 0});
  EXPECT_DEATH(LaunchWritePastEnd(y),
               "heap-buffer-overflow(.|\n)*WRITE of size 4(.|\n)*WritePastEnd(.|\n)*"
               "sim_asan_test.cc(.|\n)*0 bytes (after|to the right of) 400-byte region(.|\n)*"
               "kiln::Tensor::Empty");
  // In bounds, the same kernel is fine (n + 1 elements for n + 1 writes).
  const Tensor z = Tensor::Empty({101}, DType::kF32, Device{Device::kCudaSim, 0});
  KILN_LAUNCH(WritePastEnd, dim3(1), dim3(128), 0, nullptr, z.data<float>(), int64_t{100});
  EXPECT_EQ(z.ToVector<float>()[100], 2.0f);
#else
  GTEST_SKIP() << "needs an AddressSanitizer build (KILN_SANITIZE=ON): only there are cuda-sim "
                  "tensors exact-size host blocks with ASan's red zones after them";
#endif
}

}  // namespace
}  // namespace kiln::cuda_sim
