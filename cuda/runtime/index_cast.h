// Launchers of cuda/index_cast.cu (the runtime's own kernel, outside cuda/launchers.inc): integer
// casts between i32 and i64. kiln keeps token ids, positions and targets as i32 while the op
// launchers take i64 indices, so the kernel table widens them on the device.
#pragma once

#include <cstdint>

#include "cuda/kernels.h"

namespace kiln::cuda {
// y (n) = x (n) widened.
void WidenI32(int64_t* y, const int32_t* x, int64_t n, Stream stream);
// y (n) = x (n) saturated to the int32 range (cpu/cast.cc's rule for a narrowing integer cast).
void NarrowI64(int32_t* y, const int64_t* x, int64_t n, Stream stream);
}  // namespace kiln::cuda

namespace kiln::cuda_sim {
void WidenI32(int64_t* y, const int32_t* x, int64_t n, Stream stream);
void NarrowI64(int32_t* y, const int64_t* x, int64_t n, Stream stream);
}  // namespace kiln::cuda_sim
