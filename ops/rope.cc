// Rotary position embedding (row Rope), rotate-half layout as Hugging Face Llama. Positions are
// explicit (B, T) so packed sequences can restart them per document. The rotation is orthogonal,
// so the backward is the same op rotating the gradient by the negative angle.
#include "ops/api.h"
#include "ops/backward.h"
#include "ops/dispatch.h"
#include "ops/reduce_util.h"

namespace kiln::ops {

Tensor Rope(const Tensor& x, const Tensor& positions, double theta, bool inverse) {
  CheckFloat(x, "Rope", "x");
  KILN_CHECK(x.dim() == 4) << "Rope: expected x of shape (B, T, NH, HS), got "
                           << ShapeToString(x.shape());
  const int64_t hs = x.shape()[3];
  KILN_CHECK(hs % 2 == 0) << "Rope: the head size HS must be even, got x of shape "
                          << ShapeToString(x.shape());
  CheckIndexDtype(positions, "Rope", "positions");
  KILN_CHECK(positions.dim() == 2 && positions.shape()[0] == x.shape()[0] &&
             positions.shape()[1] == x.shape()[1])
      << "Rope: expected positions of shape (" << x.shape()[0] << ", " << x.shape()[1]
      << ") for x of shape " << ShapeToString(x.shape()) << ", got "
      << ShapeToString(positions.shape());
  KILN_CHECK(theta > 0) << "Rope: expected theta > 0, got " << theta;
  Tensor y = Tensor::Empty(x.shape(), x.dtype(), x.device());
  if (x.numel() == 0) return y;
  // The kernel reads any strides except along HS.
  Tensor xs = x.strides()[3] == 1 ? x : Dense(x);
  // Kernel slots: in[0] x (B, T, NH, HS) unit stride on HS; in[1] positions (B, T) i32/i64, any
  // strides; out[0] y contiguous; fattr[0] theta; iattr[0] inverse.
  KernelArgs args;
  args.in[0] = ToKArray(xs);
  args.in[1] = ToKArray(positions);
  args.n_in = 2;
  args.out[0] = ToKArray(y);
  args.n_out = 1;
  args.fattr[0] = theta;
  args.iattr[0] = inverse ? 1 : 0;
  RunKernel(Op::kRope, args, x.device());
  return y;
}

// Inputs {x, positions}; saved: positions. attrs.ints {inverse}, attrs.floats {theta}.
std::vector<Tensor> BackwardRope(const BackwardCtx& ctx) {
  if (!ctx.needs_grad[0] || !ctx.grads[0].defined()) return {Tensor(), Tensor()};
  return {Rope(ctx.grads[0], ctx.inputs[1], ctx.attrs.floats[0], ctx.attrs.ints[0] == 0), Tensor()};
}

}  // namespace kiln::ops
