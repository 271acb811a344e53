// Differentiable reductions and softmax-family ops: the plain op plus Record with the attributes
// each backward formula (ops/<op>.cc) reads. Only what a backward needs is saved.
#include "autograd/api.h"
#include "autograd/node.h"
#include "ops/reduce_util.h"

namespace kiln {

using autograd::kSaveAll;
using autograd::kSaveNone;

Tensor Sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor out = ops::Sum(x, dims, keepdim);
  ops::ReducePlan plan = ops::PlanReduce(x, dims, keepdim, "Sum");
  return autograd::Record(Op::kSum, {x}, {out}, ops::ReduceAttrs(x, plan, keepdim), -1, kSaveNone,
                          kSaveNone)[0];
}

Tensor Mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor out = ops::Mean(x, dims, keepdim);
  ops::ReducePlan plan = ops::PlanReduce(x, dims, keepdim, "Mean");
  return autograd::Record(Op::kMean, {x}, {out}, ops::ReduceAttrs(x, plan, keepdim), -1, kSaveNone,
                          kSaveNone)[0];
}

Tensor Max(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor out = ops::Max(x, dims, keepdim);
  ops::ReducePlan plan = ops::PlanReduce(x, dims, keepdim, "Max");
  return autograd::Record(Op::kMax, {x}, {out}, ops::ReduceAttrs(x, plan, keepdim), -1, kSaveAll,
                          kSaveAll)[0];
}

// Not differentiable: indices carry no gradient, so nothing is recorded.
Tensor Argmax(const Tensor& x, int64_t dim, bool keepdim) { return ops::Argmax(x, dim, keepdim); }

Tensor Logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor out = ops::Logsumexp(x, dims, keepdim);
  ops::ReducePlan plan = ops::PlanReduce(x, dims, keepdim, "Logsumexp");
  return autograd::Record(Op::kLogsumexp, {x}, {out}, ops::ReduceAttrs(x, plan, keepdim), -1,
                          kSaveAll, kSaveAll)[0];
}

namespace {

Tensor RecordSoftmax(Op op, const Tensor& x, int64_t dim, Tensor y) {
  OpAttrs a;
  a.ints.push_back(NormalizeDim(dim, x.dim(), OpName(op)));
  // Both backward formulas need only the output.
  return autograd::Record(op, {x}, {std::move(y)}, a, -1, kSaveNone, kSaveAll)[0];
}

}  // namespace

Tensor Softmax(const Tensor& x, int64_t dim) {
  return RecordSoftmax(Op::kSoftmax, x, dim, ops::Softmax(x, dim));
}

Tensor LogSoftmax(const Tensor& x, int64_t dim) {
  return RecordSoftmax(Op::kLogSoftmax, x, dim, ops::LogSoftmax(x, dim));
}

}  // namespace kiln
