// SwiGLU, Llama's MLP activation (rows Swiglu / SwigluBackward): gate, up (same shape) ->
// silu(gate) * up in one pass, and both gradients in one pass, with the bits of the unfused
// Silu / Mul chain (cpu/swiglu.cc).
#include "ops/api.h"
#include "ops/backward.h"
#include "ops/dispatch.h"
#include "ops/reduce_util.h"

namespace kiln::ops {
namespace {

void CheckGateUp(const Tensor& gate, const Tensor& up, const char* op) {
  CheckFloat(gate, op, "gate");
  CheckSameDtype(gate, up, op);
  KILN_CHECK(gate.shape() == up.shape())
      << op << ": gate " << ShapeToString(gate.shape()) << " and up "
      << ShapeToString(up.shape()) << " differ";
}

}  // namespace

Tensor Swiglu(const Tensor& gate, const Tensor& up) {
  CheckGateUp(gate, up, "Swiglu");
  Tensor y = Tensor::Empty(gate.shape(), gate.dtype(), gate.device());
  if (y.numel() == 0) return y;
  const Tensor gd = Dense(gate), ud = Dense(up);
  // Kernel slots: in[0] gate, in[1] up, contiguous; out[0] y.
  KernelArgs args;
  args.in[0] = ToKArray(gd);
  args.in[1] = ToKArray(ud);
  args.n_in = 2;
  args.out[0] = ToKArray(y);
  args.n_out = 1;
  RunKernel(Op::kSwiglu, args, gate.device());
  return y;
}

std::vector<Tensor> SwigluBackward(const Tensor& gate, const Tensor& up, const Tensor& grad) {
  CheckGateUp(gate, up, "SwigluBackward");
  KILN_CHECK(grad.defined() && grad.shape() == gate.shape())
      << "SwigluBackward: expected grad of shape " << ShapeToString(gate.shape()) << ", got "
      << (grad.defined() ? ShapeToString(grad.shape()) : std::string("undefined"));
  CheckSameDtype(gate, grad, "SwigluBackward");
  Tensor gg = Tensor::Empty(gate.shape(), gate.dtype(), gate.device());
  Tensor gu = Tensor::Empty(gate.shape(), gate.dtype(), gate.device());
  if (gg.numel() == 0) return {gg, gu};
  const Tensor gd = Dense(gate), ud = Dense(up), d = Dense(grad);
  // Kernel slots: in[0] gate, in[1] up, in[2] grad, contiguous; out[0] grad_gate, out[1] grad_up.
  KernelArgs args;
  args.in[0] = ToKArray(gd);
  args.in[1] = ToKArray(ud);
  args.in[2] = ToKArray(d);
  args.n_in = 3;
  args.out[0] = ToKArray(gg);
  args.out[1] = ToKArray(gu);
  args.n_out = 2;
  RunKernel(Op::kSwigluBackward, args, gate.device());
  return {gg, gu};
}

// Inputs {gate, up}; saved: both.
std::vector<Tensor> BackwardSwiglu(const BackwardCtx& ctx) {
  if (!ctx.grads[0].defined()) return {Tensor(), Tensor()};
  std::vector<Tensor> g = SwigluBackward(ctx.inputs[0], ctx.inputs[1], ctx.grads[0]);
  return {ctx.needs_grad[0] ? g[0] : Tensor(), ctx.needs_grad[1] ? g[1] : Tensor()};
}

}  // namespace kiln::ops
