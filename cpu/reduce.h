// Fixed-order row reductions shared by the reduction and normalization kernels. The order of every
// sum depends on the row length only: element j goes to partial sum (lane) j % kLanes of its block
// of kBlock elements; the lanes are combined by a fixed halving tree; the blocks of a long row by a
// fixed pairwise tree. Plain scalar code over a T[kLanes] array: vectorizing the lane loop (any
// width) cannot reorder it, and -ffp-contract=off keeps it free of implicit FMAs, so every ISA path
// and thread count gives the same bits. Internal linkage only (each per-ISA file gets its copy).
#pragma once

#include <cstddef>
#include <cstdint>

namespace kiln::cpu {
namespace {
namespace reduce {

// Part of the numerics (changing either changes the bits).
constexpr int kLanes = 16;
constexpr int64_t kBlock = 4096;  // a multiple of kLanes

// sum_{j in [begin, begin + n)} f(j), n <= kBlock, begin a multiple of kLanes.
template <typename T, typename F>
inline T BlockSum(int64_t begin, int64_t n, const F& f) {
  T acc[kLanes];
  for (int l = 0; l < kLanes; ++l) acc[l] = T(0);
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int l = 0; l < kLanes; ++l) acc[l] = acc[l] + f(begin + j + l);
  }
  for (int l = 0; j + l < n; ++l) acc[l] = acc[l] + f(begin + j + l);
  for (int l = 0; l < 8; ++l) acc[l] = acc[l] + acc[l + 8];
  for (int l = 0; l < 4; ++l) acc[l] = acc[l] + acc[l + 4];
  for (int l = 0; l < 2; ++l) acc[l] = acc[l] + acc[l + 2];
  return acc[0] + acc[1];
}

inline int64_t NumBlocks(int64_t n) { return n <= kBlock ? 1 : (n + kBlock - 1) / kBlock; }

// Blocks [b0, b1) of a row of n elements, split at the middle block (rounded up) recursively.
template <typename T, typename F>
inline T TreeSum(int64_t b0, int64_t b1, int64_t n, const F& f) {
  if (b1 - b0 == 1) {
    const int64_t s = b0 * kBlock;
    return BlockSum<T>(s, n - s < kBlock ? n - s : kBlock, f);
  }
  const int64_t mid = b0 + (b1 - b0 + 1) / 2;
  return TreeSum<T>(b0, mid, n, f) + TreeSum<T>(mid, b1, n, f);
}

// sum_{j < n} f(j) in the fixed order above (0 for n == 0).
template <typename T, typename F>
inline T RowSum(int64_t n, const F& f) {
  if (n <= kBlock) return BlockSum<T>(0, n, f);
  return TreeSum<T>(0, NumBlocks(n), n, f);
}

// The same tree over precomputed block partials p[b] (the parallel path for a few long rows
// computes the partials concurrently, then combines them exactly as RowSum would).
template <typename T>
inline T TreeCombine(const T* p, int64_t b0, int64_t b1) {
  if (b1 - b0 == 1) return p[b0];
  const int64_t mid = b0 + (b1 - b0 + 1) / 2;
  return TreeCombine(p, b0, mid) + TreeCombine(p, mid, b1);
}

// Sums over rows (LayerNorm / RmsNorm weight gradients): rows are cut in chunks of kRowChunk by
// row count (never by thread count), each chunk summed in row order, and the chunk partials
// p[k * stride] combined by the pairwise tree of TreeCombine. Part of the numerics.
constexpr int64_t kRowChunk = 64;

template <typename T>
inline T StridedTreeCombine(const T* p, int64_t stride, int64_t b0, int64_t b1) {
  if (b1 - b0 == 1) return p[b0 * stride];
  const int64_t mid = b0 + (b1 - b0 + 1) / 2;
  return StridedTreeCombine(p, stride, b0, mid) + StridedTreeCombine(p, stride, mid, b1);
}

// Max of x[0, n): -inf for n == 0, NaN if any element is NaN. Exact in any order (up to the sign
// of a zero, and the lanes fix even that).
template <typename T>
inline T RowMax(const T* x, int64_t n) {
  T m[kLanes];
  bool nan[kLanes];
  for (int l = 0; l < kLanes; ++l) {
    m[l] = -__builtin_inf();
    nan[l] = false;
  }
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const T v = x[j + l];
      m[l] = v > m[l] ? v : m[l];
      nan[l] = nan[l] | (v != v);
    }
  }
  for (int l = 0; j + l < n; ++l) {
    const T v = x[j + l];
    m[l] = v > m[l] ? v : m[l];
    nan[l] = nan[l] | (v != v);
  }
  T r = m[0];
  bool any_nan = nan[0];
  for (int l = 1; l < kLanes; ++l) {
    r = m[l] > r ? m[l] : r;
    any_nan = any_nan | nan[l];
  }
  return any_nan ? T(__builtin_nan("")) : r;
}

// Scratch memory without <new>/<vector> (see cpu/CMakeLists.txt): the global allocation functions
// are implicitly declared in every translation unit.
template <typename T>
inline T* Alloc(int64_t n) {
  return static_cast<T*>(::operator new(static_cast<size_t>(n > 0 ? n : 1) * sizeof(T)));
}
inline void Free(void* p) { ::operator delete(p); }

}  // namespace reduce
}  // namespace
}  // namespace kiln::cpu
