// Row-major kiln GEMMs as column-major BLAS calls (the cuBLAS paths of the cuda device, cuda/
// runtime/cublas_gemm.cc). Pure host arithmetic, no CUDA: tests/cuda/gemm_plan_test.cc checks it
// against a reference column-major GEMM on the CPU, so the mapping is tested without a GPU.
//
// kiln: C (m, n) = op(A) op(B), all row-major and dense; A is stored (k, m) when trans_a, else
// (m, k); B is stored (n, k) when trans_b, else (k, n). A row-major (r, c) array is the
// column-major (c, r) matrix with leading dimension c, so BLAS computes C^T (n, m) = op(B)^T op(A)^T
// with B as its first operand and A as its second.
#pragma once

#include <cstdint>

#include "ops/kernel_args.h"

namespace kiln::cuda {

// C[i] (m, n) = op(A[i]) op(B[i]) for i < batch, row-major and dense; stride_*: elements from one
// matrix to the next (stride_b 0: one B shared by the batch).
struct GemmShape {
  int64_t batch = 1, m = 0, n = 0, k = 0;
  bool trans_a = false, trans_b = false;
  int64_t stride_a = 0, stride_b = 0, stride_c = 0;
};

// The GEMMs of a Matmul row (slots of ops/matmul.cc: in[0] a (..., rows, cols), in[1] b batched
// like a or 2-D, out[0] c (..., M, N); trans_a, trans_b, batch dims), operands made dense. A batch
// sharing a 2-D b with an untransposed a is one GEMM over all its rows.
inline GemmShape MatmulShape(const KArray& a, const KArray& b, const KArray& c, bool trans_a,
                             bool trans_b, int batch_dims) {
  GemmShape g;
  g.m = c.sizes[c.ndim - 2];
  g.n = c.sizes[c.ndim - 1];
  g.k = trans_a ? a.sizes[a.ndim - 2] : a.sizes[a.ndim - 1];
  for (int d = 0; d < batch_dims; ++d) g.batch *= c.sizes[d];
  g.trans_a = trans_a;
  g.trans_b = trans_b;
  g.stride_a = g.m * g.k;
  g.stride_b = b.ndim > 2 ? g.k * g.n : 0;
  g.stride_c = g.m * g.n;
  if (g.stride_b == 0 && !trans_a) {  // the batch's rows are one (batch * m, k) matrix
    g.m *= g.batch;
    g.batch = 1;
    g.stride_a = g.m * g.k;
    g.stride_c = g.m * g.n;
  }
  return g;
}

struct ColumnMajorGemm {
  // The BLAS call gemm(trans_first, trans_second, m, n, k, first, ld_first, second, ld_second,
  // c, ld_c): c (m, n) = op(first) (m, k) op(second) (k, n), column-major.
  int64_t m = 0, n = 0, k = 0;
  bool trans_first = false, trans_second = false;  // first is kiln's B, second kiln's A
  int64_t ld_first = 0, ld_second = 0, ld_c = 0;
  // The stored (not transposed) column-major shapes, as cublasLt layouts take them.
  int64_t first_rows = 0, first_cols = 0, second_rows = 0, second_cols = 0;
};

inline ColumnMajorGemm PlanColumnMajor(int64_t m, int64_t n, int64_t k, bool trans_a,
                                       bool trans_b) {
  ColumnMajorGemm g;
  g.m = n;
  g.n = m;
  g.k = k;
  // B: stored (n, k) row-major = column-major (k, n), ld k, transposed to (n, k); or stored
  // (k, n) = column-major (n, k), ld n, as it is.
  g.trans_first = trans_b;
  g.first_rows = trans_b ? k : n;
  g.first_cols = trans_b ? n : k;
  g.ld_first = g.first_rows;
  // A: stored (k, m) = column-major (m, k), ld m, transposed to (k, m); or stored (m, k) =
  // column-major (k, m), ld k, as it is.
  g.trans_second = trans_a;
  g.second_rows = trans_a ? m : k;
  g.second_cols = trans_a ? k : m;
  g.ld_second = g.second_rows;
  g.ld_c = n;  // C (m, n) row-major = column-major (n, m), ld n
  return g;
}

// The largest power of two (at most 256) that divides the address: what cublasLt is told about
// an operand's alignment (it assumes 256 bytes unless told).
inline uint32_t AddressAlignment(const void* p) {
  const uintptr_t a = reinterpret_cast<uintptr_t>(p);
  uint32_t align = 256;
  while (align > 1 && a % align != 0) align /= 2;
  return align;
}

}  // namespace kiln::cuda
