// The CPU backend's cache of pre-packed weights (cpu/gemm.h PackedB): GEMM kernels that get a
// weight hint (ops/weight_hint.h) read B from a packed copy made once, instead of packing the
// weight again on every call (decoding reads every weight once per token, so repacking would
// triple its memory traffic). Results are bitwise the same as the unpacked GEMM (SgemmPackedB's
// contract). Entries are keyed by (storage id, data pointer, layout, instruction-set path) and
// repacked when the storage version moved; they are dropped when the weight's storage is freed,
// and the least recently used go first beyond KILN_PACK_CACHE_MB (default 4096). Thread-safe.
// Plain header: per-ISA kernel files include it. Defined in cpu/dispatch/packed_weights.cc.
#pragma once

#include <cstdint>

#include "cpu/gemm.h"
#include "ops/weight_hint.h"

namespace kiln::cpu {

// The packed op(B) (k x n; B stored k x n with row stride ldb, or n x k if trans_b) for the
// weight `hint` names, packed now if needed; null when hint.reuse is false or the weight alone
// exceeds the cache cap (the caller then runs the plain GEMM). A non-null result stays valid
// until ReleasePackedB.
const PackedB* AcquirePackedB(const WeightHint& hint, const float* b, int64_t ldb, bool trans_b,
                              int64_t k, int64_t n);
void ReleasePackedB(const PackedB* packed);

struct PackedWeightStats {
  int64_t entries = 0, bytes = 0;
  int64_t packs = 0;  // packings done (first use, version moved, path changed)
  int64_t hits = 0;   // acquisitions served without packing
};
PackedWeightStats GetPackedWeightStats();
// Drops every entry that is not in use.
void ClearPackedWeights();

}  // namespace kiln::cpu
