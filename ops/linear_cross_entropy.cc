// The LM head fused with cross-entropy: h (N, C), W (V, C), targets (N) -> the loss and lse of
// CrossEntropy(h W^T, targets) without ever holding the (N, V) logits or their gradient (row
// LinearCrossEntropy; its backward row LinearCrossEntropyBackward gives grad_h and grad_W). The
// kernel works on tiles of rb rows x vc vocabulary entries in a workspace; vc depends on V only
// (a row's loss never depends on the batch), rb only on the memory budget (no effect on bits).
#include <algorithm>

#include "ops/api.h"
#include "ops/backward.h"
#include "ops/dispatch.h"
#include "ops/reduce_util.h"

namespace kiln::ops {
namespace {

// Part of the numerics: V <= kVocabChunk is one chunk (the bits of the unfused CrossEntropy).
constexpr int64_t kVocabChunk = 4096;
// Workspace budget in elements (scheduling only): 4 MiB of f32 logits per tile.
constexpr int64_t kTileElems = int64_t{1} << 20;

struct Tiling {
  int64_t rb, vc;
};

Tiling TilingFor(int64_t n, int64_t v) {
  const int64_t vc = std::min(v, kVocabChunk);
  const int64_t rb = std::clamp<int64_t>(kTileElems / vc, 1, std::max<int64_t>(n, 1));
  return {rb, vc};
}

// Returns the dtype of the loss, lse and gradients (ops::GemmDtype: f32 for bf16 operands).
DType CheckArgs(const Tensor& h, const Tensor& w, const Tensor& targets, int64_t ignore_index,
                double label_smoothing, const char* op) {
  const DType rt = GemmDtype(h, w, op, "hidden", "weight");
  KILN_CHECK(h.dim() == 2) << op << ": expected hidden of shape (N, C), got "
                           << ShapeToString(h.shape());
  KILN_CHECK(w.dim() == 2 && w.shape()[1] == h.shape()[1] && w.shape()[0] > 0)
      << op << ": expected a weight of shape (V, " << h.shape()[1] << ") with V > 0, got "
      << ShapeToString(w.shape());
  CheckCrossEntropyTargets(targets, h.shape()[0], w.shape()[0], ignore_index, label_smoothing,
                           op);
  return rt;
}

}  // namespace

std::vector<Tensor> LinearCrossEntropy(const Tensor& h, const Tensor& w, const Tensor& targets,
                                       int64_t ignore_index, double label_smoothing) {
  const DType rt = CheckArgs(h, w, targets, ignore_index, label_smoothing, "LinearCrossEntropy");
  const int64_t n = h.shape()[0], v = w.shape()[0];
  Tensor loss = Tensor::Empty({n}, rt, h.device());
  Tensor lse = Tensor::Empty({n}, rt, h.device());
  if (n == 0) return {loss, lse};
  const Tiling tl = TilingFor(n, v);
  Tensor work = Tensor::Empty({tl.rb * tl.vc + 4 * tl.rb}, rt, h.device());
  const Tensor hd = Dense(h), wd = Dense(w);
  KernelArgs args;
  args.in[0] = ToKArray(hd);
  args.in[1] = ToKArray(wd);
  args.in[2] = ToKArray(targets);
  args.n_in = 3;
  args.out[0] = ToKArray(loss);
  args.out[1] = ToKArray(lse);
  args.out[2] = ToKArray(work);
  args.n_out = 3;
  args.iattr[0] = ignore_index;
  args.iattr[1] = tl.rb;
  args.iattr[2] = tl.vc;
  args.fattr[0] = label_smoothing;
  RunKernel(Op::kLinearCrossEntropy, args, h.device());
  return {loss, lse};
}

std::vector<Tensor> LinearCrossEntropyBackward(const Tensor& h, const Tensor& w,
                                               const Tensor& targets, const Tensor& lse,
                                               const Tensor& grad_loss, int64_t ignore_index,
                                               double label_smoothing) {
  const DType rt =
      CheckArgs(h, w, targets, ignore_index, label_smoothing, "LinearCrossEntropyBackward");
  const int64_t n = h.shape()[0], v = w.shape()[0];
  for (const Tensor* t : {&lse, &grad_loss}) {
    KILN_CHECK(t->defined() && t->dim() == 1 && t->shape()[0] == n)
        << "LinearCrossEntropyBackward: expected lse and grad_loss of shape (" << n << ",), got "
        << (t->defined() ? ShapeToString(t->shape()) : std::string("undefined"));
    KILN_CHECK(t->dtype() == rt && t->device() == h.device())
        << "LinearCrossEntropyBackward: expected lse and grad_loss of dtype " << DTypeName(rt)
        << " on " << h.device().ToString() << ", got " << DTypeName(t->dtype()) << " on "
        << t->device().ToString();
  }
  if (n == 0) return {Zeros(h.shape(), rt, h.device()), Zeros(w.shape(), rt, w.device())};
  Tensor gh = Tensor::Empty(h.shape(), rt, h.device());
  Tensor gw = Tensor::Empty(w.shape(), rt, w.device());
  const Tiling tl = TilingFor(n, v);
  Tensor work = Tensor::Empty({tl.rb * tl.vc}, rt, h.device());
  const Tensor hd = Dense(h), wd = Dense(w), ld = Dense(lse), gd = Dense(grad_loss);
  KernelArgs args;
  args.in[0] = ToKArray(hd);
  args.in[1] = ToKArray(wd);
  args.in[2] = ToKArray(targets);
  args.in[3] = ToKArray(ld);
  args.in[4] = ToKArray(gd);
  args.n_in = 5;
  args.out[0] = ToKArray(gh);
  args.out[1] = ToKArray(gw);
  args.out[2] = ToKArray(work);
  args.n_out = 3;
  args.iattr[0] = ignore_index;
  args.iattr[1] = tl.rb;
  args.iattr[2] = tl.vc;
  args.fattr[0] = label_smoothing;
  RunKernel(Op::kLinearCrossEntropyBackward, args, h.device());
  return {gh, gw};
}

// Inputs {h, w, targets}; saved: all three, and the output lse. attrs.ints {ignore_index},
// attrs.floats {label_smoothing}.
std::vector<Tensor> BackwardLinearCrossEntropy(const BackwardCtx& ctx) {
  if (!ctx.grads[0].defined() || !(ctx.needs_grad[0] || ctx.needs_grad[1])) {
    return {Tensor(), Tensor(), Tensor()};
  }
  std::vector<Tensor> g =
      LinearCrossEntropyBackward(ctx.inputs[0], ctx.inputs[1], ctx.inputs[2], ctx.outputs[1],
                                 ctx.grads[0], ctx.attrs.ints[0], ctx.attrs.floats[0]);
  return {ctx.needs_grad[0] ? g[0] : Tensor(), ctx.needs_grad[1] ? g[1] : Tensor(), Tensor()};
}

}  // namespace kiln::ops
