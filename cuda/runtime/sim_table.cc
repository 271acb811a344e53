// The cuda-sim backend's kernel table: the adapter of cuda/runtime/kernel_table.inc over the
// interpreted launchers (kiln::cuda_sim). Tensors of Device::kCudaSim live in host memory.
#include <exception>
#include <vector>

#include "base/check.h"
#include "cuda/backend.h"
#include "cuda/kernels.h"
#include "cuda/runtime/index_cast.h"
#include "tensor/device_memory.h"
#include "tensor/tensor.h"

#define KILN_RT_NS cuda_sim
#define KILN_RT_NAME "cuda-sim"
#define KILN_RT_DEVICE() (::kiln::Device{::kiln::Device::kCudaSim, 0})
#include "cuda/runtime/kernel_table.inc"
