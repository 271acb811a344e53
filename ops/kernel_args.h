// The one calling convention between the op layer and every backend's kernels: plain data only
// (pointers, sizes, strides, attributes), no tensors and no inline code, so the same struct reaches
// a per-ISA CPU kernel, a CUDA launcher or the kernel interpreter. Like ops.def, any layer may
// read it. Each op's file (ops/<op>.cc) documents which slots it fills.
#pragma once

#include <cstdint>

#include "tensor/dtype.h"

namespace kiln {

inline constexpr int kMaxDims = 8;

// A strided view of a tensor's data: element (i0, i1, ...) is at data + sum(i_d * strides[d])
// elements (not bytes).
struct KArray {
  void* data = nullptr;
  DType dtype = DType::kF32;
  int32_t ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};
};

struct KernelArgs {
  static constexpr int kMaxIn = 8, kMaxOut = 4, kMaxAttr = 8;
  KArray in[kMaxIn];
  int32_t n_in = 0;
  KArray out[kMaxOut];
  int32_t n_out = 0;
  int64_t iattr[kMaxAttr] = {};  // integer attributes (dims, flags, seeds, ...)
  double fattr[kMaxAttr] = {};   // float attributes (eps, scale, p, ...)
};

using KernelFn = void (*)(const KernelArgs&);

}  // namespace kiln
