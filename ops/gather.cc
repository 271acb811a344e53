// Gather (torch.gather) and GatherBackward (its deterministic scatter-add). Every index is
// checked on the host before the kernel runs, so a bad index is a kiln::Error naming it, never a
// wild read.
#include <string>
#include <vector>

#include "ops/api.h"
#include "ops/backward.h"
#include "ops/dispatch.h"

namespace kiln::ops {
namespace {

// Multi-index of a flat row-major position, for error messages.
std::string PositionString(int64_t flat, const Shape& shape) {
  Shape idx(shape.size());
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    idx[d] = shape[d] > 0 ? flat % shape[d] : 0;
    flat = shape[d] > 0 ? flat / shape[d] : 0;
  }
  return ShapeToString(idx);
}

// Returns the normalized dim.
int64_t CheckGather(const char* op, const Shape& x_shape, int64_t dim, const Tensor& index) {
  CheckIndexDtype(index, op, "index");
  int64_t nd = static_cast<int64_t>(x_shape.size());
  KILN_CHECK(nd > 0) << op << ": expected x with at least 1 dim, got a 0-d tensor";
  KILN_CHECK(index.dim() == nd) << op << ": index must have as many dims as x (" << nd
                                << "), got index of shape " << ShapeToString(index.shape())
                                << " for x of shape " << ShapeToString(x_shape);
  int64_t d = NormalizeDim(dim, nd, op);
  for (int64_t k = 0; k < nd; ++k) {
    KILN_CHECK(k == d || index.shape()[k] <= x_shape[k])
        << op << ": index of shape " << ShapeToString(index.shape()) << " is larger than x of "
        << "shape " << ShapeToString(x_shape) << " in dim " << k << " (only dim " << d
        << " may be)";
  }
  std::vector<int64_t> values = index.ToVector<int64_t>();
  int64_t n = x_shape[d];
  for (size_t i = 0; i < values.size(); ++i) {
    KILN_CHECK(values[i] >= 0 && values[i] < n)
        << op << ": index " << values[i] << " at position "
        << PositionString(static_cast<int64_t>(i), index.shape()) << " is out of range [0, " << n
        << ") for dim " << d << " of x of shape " << ShapeToString(x_shape);
  }
  return d;
}

}  // namespace

// in[0] = x restricted to the index shape (x's strides, stride 0 along dim), in[1] = index,
// out[0] = contiguous (index shape), iattr[0] = dim, iattr[1] = x's stride along dim, iattr[2] =
// x's size along dim (the CUDA kernels read x whole along dim).
Tensor Gather(const Tensor& x, int64_t dim, const Tensor& index) {
  KILN_CHECK(x.defined()) << "Gather: x is undefined";
  int64_t d = CheckGather("Gather", x.shape(), dim, index);
  KILN_CHECK(index.device() == x.device()) << "Gather: device mismatch, x on "
                                           << x.device().ToString() << ", index on "
                                           << index.device().ToString();
  Tensor out = Tensor::Empty(index.shape(), x.dtype(), x.device());
  Shape strides = x.strides();
  strides[d] = 0;
  Tensor x_view = Tensor::MakeView(x.storage(), x.offset(), index.shape(), strides, x.dtype());
  KernelArgs args;
  args.in[0] = ToKArray(x_view);
  args.in[1] = ToKArray(index);
  args.n_in = 2;
  args.out[0] = ToKArray(out);
  args.n_out = 1;
  args.iattr[0] = d;
  args.iattr[1] = x.strides()[d];
  args.iattr[2] = x.shape()[d];
  RunKernel(Op::kGather, args, x.device());
  return out;
}

// in[0] = index, in[1] = grad (index shape), out[0] = grad_x (contiguous, x_shape),
// iattr[0] = dim.
Tensor GatherBackward(const Tensor& index, const Tensor& grad, int64_t dim, const Shape& x_shape) {
  CheckFloat(grad, "GatherBackward", "grad");
  int64_t d = CheckGather("GatherBackward", x_shape, dim, index);
  KILN_CHECK(grad.shape() == index.shape())
      << "GatherBackward: grad has shape " << ShapeToString(grad.shape())
      << ", expected the index shape " << ShapeToString(index.shape());
  Tensor gx = Tensor::Empty(x_shape, grad.dtype(), grad.device());
  KernelArgs args;
  args.in[0] = ToKArray(index);
  args.in[1] = ToKArray(grad);
  args.n_in = 2;
  args.out[0] = ToKArray(gx);
  args.n_out = 1;
  args.iattr[0] = d;
  RunKernel(Op::kGatherBackward, args, grad.device());
  return gx;
}

// attrs.ints: dim (normalized), then x's shape. Saves index.
std::vector<Tensor> BackwardGather(const BackwardCtx& ctx) {
  if (!ctx.needs_grad[0] || !ctx.grads[0].defined()) return {Tensor(), Tensor()};
  Shape x_shape(ctx.attrs.ints.begin() + 1, ctx.attrs.ints.end());
  return {GatherBackward(ctx.inputs[1], ctx.grads[0], ctx.attrs.ints[0], x_shape), Tensor()};
}

}  // namespace kiln::ops
