// Warp- and block-level reductions in a fixed order for cuda/<op>.cu row kernels: each thread
// folds its strided elements in index order, a warp combines lanes with an xor butterfly, the
// block combines warps through shared memory, and lane 0's value is broadcast so every thread
// returns the same bits. The order depends on the row length and blockDim only, never on the
// number of rows (batch invariance) or on timing (no atomics).
#pragma once

#include "cuda/portable.h"

namespace kiln::KILN_CUDA_NS {
namespace {

inline constexpr unsigned kFullMask = 0xffffffffu;

struct SumOp {
  static __device__ float Identity() { return 0.0f; }
  __device__ float operator()(float a, float b) const { return a + b; }
};
struct MaxOp {
  static __device__ float Identity() { return -INFINITY; }
  // NaN wins, as the CPU's RowMax.
  __device__ float operator()(float a, float b) const { return a > b || a != a ? a : b; }
};

template <typename R>
__device__ __forceinline__ float WarpReduce(float v, R r) {
  for (int o = 16; o > 0; o /= 2) v = r(v, __shfl_xor_sync(kFullMask, v, o));
  return __shfl_sync(kFullMask, v, 0);  // lanes' butterflies differ in order: take lane 0's
}

// Needs blockDim.x a multiple of 32 (all warps full) and every thread of the block to call it.
template <typename R>
__device__ float BlockReduce(float v, R r) {
  KILN_SHARED(float, partial, [32]);
  const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  v = WarpReduce(v, r);
  __syncthreads();  // an earlier call's readers are done with `partial`
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  return WarpReduce(lane < warps ? partial[lane] : R::Identity(), r);
}

}  // namespace
}  // namespace kiln::KILN_CUDA_NS
