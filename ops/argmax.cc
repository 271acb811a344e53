// Argmax along one dim (row Argmax): i64 indices, the first maximum wins and a NaN counts as the
// maximum (the first NaN wins), as in PyTorch. Not differentiable: the backward formula exists
// only because every KERNEL row has one, and returns no gradient.
#include "ops/api.h"
#include "ops/backward.h"
#include "ops/dispatch.h"
#include "ops/reduce_util.h"

namespace kiln::ops {

Tensor Argmax(const Tensor& x, int64_t dim, bool keepdim) {
  CheckFloat(x, "Argmax", "x");
  ReducePlan plan = PlanReduceDim(x, dim, keepdim, "Argmax");
  KILN_CHECK(plan.r > 0) << "Argmax: dim " << dim << " has size 0 (input shape "
                         << ShapeToString(x.shape()) << ")";
  return RunRowReduction(Op::kArgmax, x, plan, DType::kI64);
}

std::vector<Tensor> BackwardArgmax(const BackwardCtx& ctx) {
  return std::vector<Tensor>(ctx.inputs.size());
}

}  // namespace kiln::ops
