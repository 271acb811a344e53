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
  Tensor out = Tensor::Empty(plan.out_shape, DType::kI64, x.device());
  if (plan.rows == 0) return out;
  // Kernel slots: in[0] x as (rows, R), unit inner stride; out[0] i64 (rows).
  KernelArgs args;
  const Tensor in0 = ToRows(x, plan);
  args.in[0] = ToKArray(in0);
  args.n_in = 1;
  args.out[0] = ToKArray(View(out, {plan.rows}));
  args.n_out = 1;
  RunKernel(Op::kArgmax, args, x.device());
  return out;
}

std::vector<Tensor> BackwardArgmax(const BackwardCtx& ctx) {
  return std::vector<Tensor>(ctx.inputs.size());
}

}  // namespace kiln::ops
