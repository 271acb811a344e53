// The CUDA backend's host launchers, declared once for each build of the kernels: kiln::cuda (nvcc,
// device pointers, only with KILN_CUDA) and kiln::cuda_sim (the same kernels on the CPU through
// the interpreter, host pointers). Launchers take plain pointers and sizes (no tensors) so the
// runtime can wrap them; each documents its shapes; all arrays are contiguous f32 unless stated.
#pragma once

#include <cstdint>

#include "ops/op_enum.h"

struct CUstream_st;

namespace kiln::cuda {
#include "cuda/launchers.inc"
}  // namespace kiln::cuda

namespace kiln::cuda_sim {
#include "cuda/launchers.inc"
}  // namespace kiln::cuda_sim
