// The CUDA backend's kernel table (KILN_CUDA builds): the adapter of cuda/runtime/kernel_table.inc
// over nvcc's launchers (kiln::cuda), on the device's one stream; temporaries come from the
// device's caching allocator.
#include <cuda_runtime_api.h>

#include <exception>
#include <vector>

#include "base/check.h"
#include "cuda/backend.h"
#include "cuda/kernels.h"
#include "cuda/runtime/index_cast.h"
#include "tensor/device_memory.h"
#include "tensor/tensor.h"

namespace kiln::cuda {
namespace {
thread_local int tls_device = -1;  // the device cudaSetDevice last made current on this thread
}  // namespace
void SetLaunchDevice(int index) {
  if (index == tls_device) return;
  const cudaError_t e = cudaSetDevice(index);
  KILN_CHECK(e == cudaSuccess) << "cudaSetDevice(" << index << "): " << cudaGetErrorString(e);
  tls_device = index;
}
}  // namespace kiln::cuda

#define KILN_RT_NS cuda
#define KILN_RT_NAME "cuda"
#define KILN_RT_DEVICE() (::kiln::Device{::kiln::Device::kCUDA, ::kiln::cuda::tls_device})
#include "cuda/runtime/kernel_table.inc"
