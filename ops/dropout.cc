// Dropout: keeps element i (flat row-major index of the input) iff the Philox draw for
// (seed, offset + i) is >= p, scaling kept values by 1 / (1 - p). The mask is never stored: the
// backward is the same Dropout applied to the gradient, which re-derives the same mask.
#include "ops/api.h"
#include "ops/backward.h"
#include "ops/dispatch.h"

namespace kiln::ops {

// in[0] = x (contiguous), out[0] = contiguous, iattr[0] = seed, iattr[1] = offset (uint64 bits),
// fattr[0] = p.
Tensor Dropout(const Tensor& x, double p, uint64_t seed, uint64_t offset) {
  CheckFloat(x, "Dropout", "x");
  KILN_CHECK(p >= 0.0 && p <= 1.0) << "Dropout: expected p in [0, 1], got " << p;
  if (p == 0.0) return x;
  Tensor xc = Contiguous(x);
  Tensor out = Tensor::Empty(x.shape(), x.dtype(), x.device());
  KernelArgs args;
  args.in[0] = ToKArray(xc);
  args.n_in = 1;
  args.out[0] = ToKArray(out);
  args.n_out = 1;
  args.iattr[0] = static_cast<int64_t>(seed);
  args.iattr[1] = static_cast<int64_t>(offset);
  args.fattr[0] = p;
  RunKernel(Op::kDropout, args, x.device());
  return out;
}

// attrs.ints: seed, offset (uint64 bits); attrs.floats[0]: p. Nothing saved.
std::vector<Tensor> BackwardDropout(const BackwardCtx& ctx) {
  if (!ctx.needs_grad[0] || !ctx.grads[0].defined()) return {Tensor()};
  return {Dropout(ctx.grads[0], ctx.attrs.floats[0], static_cast<uint64_t>(ctx.attrs.ints[0]),
                  static_cast<uint64_t>(ctx.attrs.ints[1]))};
}

}  // namespace kiln::ops
