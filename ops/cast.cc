// Cast (row Cast): converts between any two of the 8 dtypes (rules in cpu/cast.cc: round to
// nearest even into floating types, truncate + saturate into integers). Casting to the same dtype
// returns the input itself. The backward casts the gradient back, between floating dtypes only.
#include "ops/api.h"
#include "ops/backward.h"
#include "ops/dispatch.h"

namespace kiln::ops {

Tensor Cast(const Tensor& x, DType dtype) {
  KILN_CHECK(x.defined()) << "Cast: the input is undefined";
  if (x.dtype() == dtype) return x;
  Tensor y = Tensor::Empty(x.shape(), dtype, x.device());
  KernelArgs args;
  args.in[0] = ToKArray(x);
  args.n_in = 1;
  args.out[0] = ToKArray(y);
  args.n_out = 1;
  RunKernel(Op::kCast, args, x.device());
  return y;
}

// attrs.ints[0]: the input's dtype. Nothing saved.
std::vector<Tensor> BackwardCast(const BackwardCtx& ctx) {
  if (!ctx.needs_grad[0] || !ctx.grads[0].defined()) return {Tensor()};
  DType in_dtype = static_cast<DType>(ctx.attrs.ints[0]);
  const Tensor& g = ctx.grads[0];
  KILN_CHECK(IsFloating(in_dtype) && IsFloating(g.dtype()))
      << "Cast backward: gradients flow only between floating dtypes, got a cast from "
      << DTypeName(in_dtype) << " with a gradient of dtype " << DTypeName(g.dtype());
  return {Cast(g, in_dtype)};
}

}  // namespace kiln::ops
