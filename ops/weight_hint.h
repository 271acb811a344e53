// A hint the op layer passes with a weight operand so a backend may reuse data derived from it
// across calls (the CPU backend keeps pre-packed GEMM panels of weights: cpu/packed_weights.h).
// Plain header (kernel files include it): three integer attribute slots starting at `base`.
//   iattr[base]     1: reuse allowed (no autograd, f32 parameter on the CPU, KILN_PACK_WEIGHTS
//                   not 0), else 0
//   iattr[base + 1] the weight storage's id (Storage::id(), never reused)
//   iattr[base + 2] the storage's version (bumped by every in-place write: a new version repacks)
// Backends without such a cache ignore the slots; results are bitwise the same either way.
#pragma once

#include <cstdint>

#include "ops/kernel_args.h"

namespace kiln {

struct WeightHint {
  bool reuse = false;
  uint64_t storage_id = 0;
  int64_t version = 0;
};

inline WeightHint ReadWeightHint(const KernelArgs& args, int base) {
  WeightHint h;
  h.reuse = args.iattr[base] != 0;
  h.storage_id = static_cast<uint64_t>(args.iattr[base + 1]);
  h.version = args.iattr[base + 2];
  return h;
}

}  // namespace kiln
