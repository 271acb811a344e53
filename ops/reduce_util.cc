// Reduction plans: which dims are reduced, the permutation that puts them last, the output shapes.
#include "ops/reduce_util.h"

#include <algorithm>

#include "ops/api.h"
#include "ops/dispatch.h"

namespace kiln::ops {

ReducePlan PlanReduce(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim,
                      const char* op) {
  ReducePlan p;
  const int64_t nd = x.dim();
  std::vector<bool> reduced(nd, dims.empty());
  for (int64_t d : dims) {
    // A 0-d tensor accepts dim 0 / -1 as "the only element", like PyTorch.
    int64_t n = NormalizeDim(d, nd == 0 ? 1 : nd, op);
    if (nd == 0) continue;
    KILN_CHECK(!reduced[n]) << op << ": dim " << d << " appears more than once in the reduced dims";
    reduced[n] = true;
  }
  for (int64_t d = 0; d < nd; ++d) {
    if (reduced[d]) {
      p.dims.push_back(d);
      p.r *= x.shape()[d];
      p.keep_shape.push_back(1);
      if (keepdim) p.out_shape.push_back(1);
    } else {
      p.perm.push_back(d);
      p.rows *= x.shape()[d];
      p.keep_shape.push_back(x.shape()[d]);
      p.out_shape.push_back(x.shape()[d]);
    }
  }
  p.perm.insert(p.perm.end(), p.dims.begin(), p.dims.end());
  return p;
}

ReducePlan PlanReduceDim(const Tensor& x, int64_t dim, bool keepdim, const char* op) {
  KILN_CHECK(x.dim() >= 1) << op << ": expected a tensor with at least 1 dim, got a 0-d tensor";
  return PlanReduce(x, {NormalizeDim(dim, x.dim(), op)}, keepdim, op);
}

Tensor Dense(const Tensor& x) { return x.is_contiguous() ? x : Contiguous(x); }

Tensor ToRows(const Tensor& x, const ReducePlan& plan) {
  bool identity = true;
  for (size_t i = 0; i < plan.perm.size(); ++i) identity = identity && plan.perm[i] == int64_t(i);
  Tensor moved = identity ? x : Permute(x, plan.perm);
  return View(Dense(moved), {plan.rows, plan.r});
}

Tensor FromRows(const Tensor& rows_tensor, const Tensor& x, const ReducePlan& plan) {
  Shape moved_shape;
  for (int64_t d : plan.perm) moved_shape.push_back(x.shape()[d]);
  Tensor moved = View(rows_tensor, moved_shape);
  std::vector<int64_t> inverse(plan.perm.size());
  bool identity = true;
  for (size_t i = 0; i < plan.perm.size(); ++i) {
    inverse[plan.perm[i]] = static_cast<int64_t>(i);
    identity = identity && plan.perm[i] == int64_t(i);
  }
  return identity ? moved : Permute(moved, inverse);
}

OpAttrs ReduceAttrs(const Tensor& x, const ReducePlan& plan, bool keepdim) {
  OpAttrs a;
  a.ints.push_back(keepdim ? 1 : 0);
  a.ints.push_back(x.dim());
  for (int64_t s : x.shape()) a.ints.push_back(s);
  for (int64_t d : plan.dims) a.ints.push_back(d);
  return a;
}

ReduceAttrView ParseReduceAttrs(const OpAttrs& attrs) {
  ReduceAttrView v;
  v.keepdim = attrs.ints[0] != 0;
  int64_t nd = attrs.ints[1];
  v.in_shape.assign(attrs.ints.begin() + 2, attrs.ints.begin() + 2 + nd);
  v.dims.assign(attrs.ints.begin() + 2 + nd, attrs.ints.end());
  return v;
}

Tensor ExpandReduced(const Tensor& grad, const Shape& in_shape, const std::vector<int64_t>& dims,
                     bool keepdim) {
  (void)keepdim;  // either way grad has the kept sizes in order; View inserts the 1s
  Shape keep = in_shape;
  for (int64_t d : dims) keep[d] = 1;
  return Expand(Reshape(grad, keep), in_shape);
}

Tensor RunRowReduction(Op op, const Tensor& x, const ReducePlan& plan, DType out_dtype,
                       double fattr0) {
  Tensor out = Tensor::Empty(plan.out_shape, out_dtype, x.device());
  if (plan.rows == 0) return out;
  const Tensor in0 = ToRows(x, plan);  // named: the kernel reads its storage
  KernelArgs args;
  args.in[0] = ToKArray(in0);
  args.n_in = 1;
  args.out[0] = ToKArray(View(out, {plan.rows}));
  args.n_out = 1;
  args.fattr[0] = fattr0;
  RunKernel(op, args, x.device());
  return out;
}

}  // namespace kiln::ops
