// Embedding (row lookup) and EmbeddingBackward (deterministic scatter-add into the table). Ids
// are checked on the host before the kernel runs: an id outside [0, V) is a kiln::Error naming
// the id, its position and V, never an out-of-bounds read.
#include <vector>

#include "ops/api.h"
#include "ops/backward.h"
#include "ops/dispatch.h"

namespace kiln::ops {
namespace {

void CheckIds(const char* op, const Tensor& ids, int64_t vocab) {
  CheckIndexDtype(ids, op, "ids");
  std::vector<int64_t> values = ids.ToVector<int64_t>();
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] >= 0 && values[i] < vocab) continue;
    Shape pos(ids.shape().size());
    int64_t flat = static_cast<int64_t>(i);
    for (int64_t d = ids.dim() - 1; d >= 0; --d) {
      pos[d] = flat % ids.shape()[d];
      flat /= ids.shape()[d];
    }
    KILN_CHECK(false) << op << ": id " << values[i] << " at position " << ShapeToString(pos)
                      << " of ids of shape " << ShapeToString(ids.shape())
                      << " is out of range [0, " << vocab << ") (V = " << vocab << ")";
  }
}

}  // namespace

// in[0] = weight (V, C), in[1] = ids (N) contiguous, out[0] = (N, C) contiguous; viewed as
// (..., C) on return.
Tensor Embedding(const Tensor& weight, const Tensor& ids) {
  CheckFloat(weight, "Embedding", "weight");
  KILN_CHECK(weight.dim() == 2) << "Embedding: expected weight of shape (V, C), got shape "
                                << ShapeToString(weight.shape());
  CheckIds("Embedding", ids, weight.shape()[0]);
  KILN_CHECK(ids.device() == weight.device()) << "Embedding: device mismatch, weight on "
                                              << weight.device().ToString() << ", ids on "
                                              << ids.device().ToString();
  int64_t c = weight.shape()[1];
  Tensor flat_ids = Reshape(ids, {ids.numel()});  // copies only when ids is not viewable
  Tensor out = Tensor::Empty({ids.numel(), c}, weight.dtype(), weight.device());
  const Tensor ids_c = Contiguous(flat_ids);  // named: the kernel reads its storage
  KernelArgs args;
  args.in[0] = ToKArray(weight);
  args.in[1] = ToKArray(ids_c);
  args.n_in = 2;
  args.out[0] = ToKArray(out);
  args.n_out = 1;
  RunKernel(Op::kEmbedding, args, weight.device());
  Shape shape = ids.shape();
  shape.push_back(c);
  return View(out, shape);
}

// in[0] = ids (N) contiguous, in[1] = grad (N, C), out[0] = grad_weight (V, C) contiguous.
Tensor EmbeddingBackward(const Tensor& ids, const Tensor& grad, int64_t vocab) {
  CheckFloat(grad, "EmbeddingBackward", "grad");
  KILN_CHECK(vocab >= 0) << "EmbeddingBackward: vocab must be >= 0, got " << vocab;
  CheckIds("EmbeddingBackward", ids, vocab);
  KILN_CHECK(grad.dim() == ids.dim() + 1)
      << "EmbeddingBackward: expected grad of shape ids + (C,) for ids of shape "
      << ShapeToString(ids.shape()) << ", got " << ShapeToString(grad.shape());
  for (int64_t d = 0; d < ids.dim(); ++d) {
    KILN_CHECK(grad.shape()[d] == ids.shape()[d])
        << "EmbeddingBackward: expected grad of shape ids + (C,) for ids of shape "
        << ShapeToString(ids.shape()) << ", got " << ShapeToString(grad.shape());
  }
  int64_t c = grad.shape()[grad.dim() - 1];
  Tensor gw = Tensor::Empty({vocab, c}, grad.dtype(), grad.device());
  // Named: a copy made by Contiguous/Reshape must outlive the kernel call.
  const Tensor ids_c = Contiguous(Reshape(ids, {ids.numel()}));
  const Tensor grad_2d = Reshape(grad, {ids.numel(), c});
  KernelArgs args;
  args.in[0] = ToKArray(ids_c);
  args.in[1] = ToKArray(grad_2d);
  args.n_in = 2;
  args.out[0] = ToKArray(gw);
  args.n_out = 1;
  RunKernel(Op::kEmbeddingBackward, args, grad.device());
  return gw;
}

// attrs.ints[0]: V. Saves ids.
std::vector<Tensor> BackwardEmbedding(const BackwardCtx& ctx) {
  if (!ctx.needs_grad[0] || !ctx.grads[0].defined()) return {Tensor(), Tensor()};
  return {EmbeddingBackward(ctx.inputs[1], ctx.grads[0], ctx.attrs.ints[0]), Tensor()};
}

}  // namespace kiln::ops
