// Contiguous (row Contiguous): a row-major copy of a strided tensor, or the tensor itself when it
// already is row-major (so callers can ask for it freely). Its backward is the identity.
#include "ops/api.h"
#include "ops/backward.h"
#include "ops/dispatch.h"

namespace kiln::ops {

Tensor Contiguous(const Tensor& x) {
  KILN_CHECK(x.defined()) << "Contiguous: the input is undefined";
  if (x.is_contiguous()) return x;
  Tensor y = Tensor::Empty(x.shape(), x.dtype(), x.device());
  KernelArgs args;
  args.in[0] = ToKArray(x);
  args.n_in = 1;
  args.out[0] = ToKArray(y);
  args.n_out = 1;
  RunKernel(Op::kContiguous, args, x.device());
  return y;
}

// No attrs, nothing saved.
std::vector<Tensor> BackwardContiguous(const BackwardCtx& ctx) {
  if (!ctx.needs_grad[0]) return {Tensor()};
  return {ctx.grads[0]};
}

}  // namespace kiln::ops
