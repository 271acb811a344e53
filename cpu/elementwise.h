// Strided N-operand walk shared by the elementwise, copy and index kernels. Internal linkage only
// (anonymous namespace inside the per-ISA namespace): each kernel file compiles its own copy, so
// no inline function built with AVX-512 flags can be picked by the linker for a generic caller.
// The walk only decides which thread touches which element; every element's arithmetic is done
// by the caller's functor, so the bits never depend on the thread count or on the chunking.
#pragma once

#include <cstdint>

#include "base/thread_pool.h"
#include "ops/kernel_args.h"

namespace kiln::cpu::KILN_ISA_NS {
namespace {

// N operands of one shape, with size-1 dims dropped and adjacent dims merged wherever every
// operand's strides allow it (a contiguous or scalar-broadcast operand collapses to one dim).
template <int N>
struct StridedLoop {
  int ndim = 0;
  int64_t numel = 1;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[N][kMaxDims] = {};
};

// `ops[0]` gives the shape; every operand must have the same sizes (the op layer expands them).
template <int N>
inline StridedLoop<N> MakeLoop(const KArray* const (&ops)[N]) {
  StridedLoop<N> l;
  const KArray& shape = *ops[0];
  for (int d = 0; d < shape.ndim; ++d) l.numel *= shape.sizes[d];
  for (int d = 0; d < shape.ndim; ++d) {
    int64_t size = shape.sizes[d];
    if (size == 1) continue;
    if (l.ndim > 0) {
      bool merge = true;
      for (int k = 0; k < N; ++k) {
        if (l.strides[k][l.ndim - 1] != ops[k]->strides[d] * size) merge = false;
      }
      if (merge) {
        l.sizes[l.ndim - 1] *= size;
        for (int k = 0; k < N; ++k) l.strides[k][l.ndim - 1] = ops[k]->strides[d];
        continue;
      }
    }
    l.sizes[l.ndim] = size;
    for (int k = 0; k < N; ++k) l.strides[k][l.ndim] = ops[k]->strides[d];
    ++l.ndim;
  }
  if (l.ndim == 0) {  // a single element
    l.ndim = 1;
    l.sizes[0] = 1;
  }
  return l;
}

// Elements per work item, and the work each thread needs before the walk uses more than one.
// Scheduling only: any values give the same bits.
inline constexpr int64_t kWalkChunk = 1024;
inline constexpr int64_t kWalkParallelMin = 2048;

// Calls fn(off, step, n) for pieces of the innermost dim: off[k] is operand k's element offset
// of the piece's first element, step[k] its innermost stride, n the piece's length. Pieces run
// in parallel; each element is visited exactly once.
template <int N, typename Fn>
inline void ForEachPiece(const StridedLoop<N>& l, Fn&& fn) {
  if (l.numel == 0) return;
  const int last = l.ndim - 1;
  const int64_t inner = l.sizes[last];
  const int64_t rows = l.numel / inner;
  const int64_t per_row = (inner + kWalkChunk - 1) / kWalkChunk;
  const int64_t items = rows * per_row;
  kiln::ParallelForWork(
      items, l.numel / items, kWalkParallelMin, [&](int64_t it_lo, int64_t it_hi) {
        for (int64_t it = it_lo; it < it_hi; ++it) {
          int64_t row = it / per_row, start = (it % per_row) * kWalkChunk;
          int64_t off[N], step[N];
          for (int k = 0; k < N; ++k) {
            off[k] = start * l.strides[k][last];
            step[k] = l.strides[k][last];
          }
          for (int d = last - 1; d >= 0; --d) {
            int64_t i = row % l.sizes[d];
            row /= l.sizes[d];
            for (int k = 0; k < N; ++k) off[k] += i * l.strides[k][d];
          }
          int64_t n = inner - start < kWalkChunk ? inner - start : kWalkChunk;
          fn(static_cast<const int64_t*>(off), static_cast<const int64_t*>(step), n);
        }
      });
}

// Strided copy of one operand into another of the same shape, by element size (any dtype).
template <typename U>
inline void CopyAs(const KArray& dst, const KArray& src) {
  U* d = static_cast<U*>(dst.data);
  const U* s = static_cast<const U*>(src.data);
  const KArray* const ops[2] = {&dst, &src};
  ForEachPiece(MakeLoop<2>(ops), [&](const int64_t* off, const int64_t* step, int64_t n) {
    U* dp = d + off[0];
    const U* sp = s + off[1];
    if (step[0] == 1 && step[1] == 1) {
      for (int64_t j = 0; j < n; ++j) dp[j] = sp[j];
    } else {
      for (int64_t j = 0; j < n; ++j) dp[j * step[0]] = sp[j * step[1]];
    }
  });
}

inline void StridedCopy(const KArray& dst, const KArray& src, int64_t element_size) {
  switch (element_size) {
    case 1:
      CopyAs<uint8_t>(dst, src);
      break;
    case 2:
      CopyAs<uint16_t>(dst, src);
      break;
    case 4:
      CopyAs<uint32_t>(dst, src);
      break;
    default:
      CopyAs<uint64_t>(dst, src);
      break;
  }
}

}  // namespace
}  // namespace kiln::cpu::KILN_ISA_NS
