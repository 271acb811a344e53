// Shared plumbing of the reduction ops (Sum, Mean, Max, Argmax, Logsumexp, Softmax, ...): the
// kernels only ever see a contiguous (rows, R) matrix whose rows are reduced, so the op layer moves
// the reduced dims last (in increasing order) and makes the input contiguous. The reduction order
// over a row is then fixed by the shape alone (see docs/ops_reduce.md).
#pragma once

#include <cstdint>
#include <vector>

#include "ops/backward.h"
#include "tensor/tensor.h"

namespace kiln::ops {

struct ReducePlan {
  std::vector<int64_t> dims;  // reduced dims: normalized, increasing, unique (empty input = all)
  std::vector<int64_t> perm;  // kept dims (in order), then the reduced dims
  Shape out_shape;            // the op's output shape (keepdim or not)
  Shape keep_shape;           // the output shape with keepdim=true (for broadcasting back)
  int64_t rows = 1;           // product of the kept sizes
  int64_t r = 1;              // product of the reduced sizes
};

// Normalizes `dims` against x (throws naming `op` for a bad or repeated dim).
ReducePlan PlanReduce(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim,
                      const char* op);
// The single-dim form (Softmax, Argmax...).
ReducePlan PlanReduceDim(const Tensor& x, int64_t dim, bool keepdim, const char* op);
// x as a contiguous (rows, R) tensor in the plan's order (a view when x already is).
Tensor ToRows(const Tensor& x, const ReducePlan& plan);
// The inverse of ToRows for a result with x's element count: a (rows, R) tensor -> x's shape
// (a permuted view of `rows_tensor`).
Tensor FromRows(const Tensor& rows_tensor, const Tensor& x, const ReducePlan& plan);
// Runs a row-reduction kernel (Sum, Mean, Max, Argmax, Logsumexp): kernel slots in[0] = x as
// (rows, R) with unit inner stride, out[0] = (rows) of `out_dtype`, fattr[0] = `fattr0`.
// Returns the result in plan.out_shape.
Tensor RunRowReduction(Op op, const Tensor& x, const ReducePlan& plan, DType out_dtype,
                       double fattr0 = 0);
// Contiguous copy when needed (ops::Contiguous returns x itself when already contiguous). Op files
// hold the result (and ToRows') in a named local until the kernel has run: a KArray does not own
// its data, so a KArray of a temporary copy would dangle.
Tensor Dense(const Tensor& x);
// Cross-entropy targets (N) against a vocabulary of V: i32 / i64, every entry in [0, V) or
// ignore_index, label_smoothing in [0, 1] (CrossEntropy, LinearCrossEntropy).
void CheckCrossEntropyTargets(const Tensor& targets, int64_t n, int64_t v, int64_t ignore_index,
                              double label_smoothing, const char* op);

// Attributes recorded by the reduction wrappers: ints = {keepdim, ndim, shape..., dims...}.
OpAttrs ReduceAttrs(const Tensor& x, const ReducePlan& plan, bool keepdim);
struct ReduceAttrView {
  bool keepdim;
  Shape in_shape;
  std::vector<int64_t> dims;
};
ReduceAttrView ParseReduceAttrs(const OpAttrs& attrs);
// The gradient of a reduction output broadcast back to the input shape (a stride-0 view).
Tensor ExpandReduced(const Tensor& grad, const Shape& in_shape, const std::vector<int64_t>& dims,
                     bool keepdim);

}  // namespace kiln::ops
