// Differentiable index ops (Gather, Embedding): the index tensor is an input of the node but is
// never differentiable; only it is saved, since both backwards are scatter-adds of the gradient
// at those indices.
#include "autograd/api.h"
#include "autograd/node.h"

namespace kiln {

Tensor Gather(const Tensor& x, int64_t dim, const Tensor& index) {
  Tensor out = ops::Gather(x, dim, index);
  OpAttrs attrs;
  attrs.ints.push_back(NormalizeDim(dim, x.dim(), "Gather"));
  attrs.ints.insert(attrs.ints.end(), x.shape().begin(), x.shape().end());
  return autograd::Record(Op::kGather, {x, index}, {out}, attrs, -1, 1u << 1,
                          autograd::kSaveNone)[0];
}

Tensor Embedding(const Tensor& weight, const Tensor& ids) {
  Tensor out = ops::Embedding(weight, ids);
  OpAttrs attrs;
  attrs.ints.push_back(weight.shape()[0]);
  return autograd::Record(Op::kEmbedding, {weight, ids}, {out}, attrs, -1, 1u << 1,
                          autograd::kSaveNone)[0];
}

}  // namespace kiln
