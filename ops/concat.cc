// Concat (row Concat): joins tensors of one dtype along `dim` (all other sizes equal) into a new
// contiguous tensor; the kernel is called once per input with that input's slice of the output.
// The backward hands each input the Narrow of the gradient over its slice.
#include "ops/api.h"
#include "ops/backward.h"
#include "ops/dispatch.h"

namespace kiln::ops {

Tensor Concat(const std::vector<Tensor>& xs, int64_t dim) {
  KILN_CHECK(!xs.empty()) << "Concat: expected at least one tensor, got none";
  for (size_t i = 0; i < xs.size(); ++i) {
    KILN_CHECK(xs[i].defined()) << "Concat: tensor " << i << " is undefined";
  }
  const Tensor& first = xs[0];
  KILN_CHECK(first.dim() > 0) << "Concat: cannot concatenate 0-d tensors (tensor 0 is 0-d)";
  int64_t d = NormalizeDim(dim, first.dim(), "Concat");
  Shape shape = first.shape();
  shape[d] = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const Tensor& x = xs[i];
    KILN_CHECK(x.dtype() == first.dtype())
        << "Concat: all tensors must have one dtype; tensor 0 is " << DTypeName(first.dtype())
        << ", tensor " << i << " is " << DTypeName(x.dtype());
    KILN_CHECK(x.device() == first.device())
        << "Concat: all tensors must be on one device; tensor 0 is on "
        << first.device().ToString() << ", tensor " << i << " on " << x.device().ToString();
    KILN_CHECK(x.dim() == first.dim())
        << "Concat: all tensors must have " << first.dim() << " dims (tensor 0 has shape "
        << ShapeToString(first.shape()) << "), tensor " << i << " has shape "
        << ShapeToString(x.shape());
    for (int64_t k = 0; k < x.dim(); ++k) {
      KILN_CHECK(k == d || x.shape()[k] == first.shape()[k])
          << "Concat: along dim " << d << ", tensor " << i << " of shape "
          << ShapeToString(x.shape()) << " does not match tensor 0 of shape "
          << ShapeToString(first.shape()) << " in dim " << k;
    }
    shape[d] += x.shape()[d];
  }
  Tensor out = Tensor::Empty(shape, first.dtype(), first.device());
  int64_t start = 0;
  for (const Tensor& x : xs) {
    int64_t len = x.shape()[d];
    if (len > 0) {
      KernelArgs args;
      args.in[0] = ToKArray(x);
      args.n_in = 1;
      args.out[0] = ToKArray(Narrow(out, d, start, len));
      args.n_out = 1;
      RunKernel(Op::kConcat, args, first.device());
    }
    start += len;
  }
  return out;
}

void CopyInto(const Tensor& dst, const Tensor& src) {
  KILN_CHECK(dst.defined() && src.defined()) << "CopyInto: a tensor is undefined";
  KILN_CHECK(dst.shape() == src.shape())
      << "CopyInto: shape " << ShapeToString(src.shape()) << " does not match destination "
      << ShapeToString(dst.shape());
  CheckSameDtype(dst, src, "CopyInto");
  if (dst.numel() == 0) return;
  KernelArgs args;
  args.in[0] = ToKArray(src);
  args.n_in = 1;
  args.out[0] = ToKArray(dst);
  args.n_out = 1;
  RunKernel(Op::kConcat, args, dst.device());
  dst.BumpVersion();
}

// attrs.ints: dim (normalized), then each input's size along dim. Nothing saved.
std::vector<Tensor> BackwardConcat(const BackwardCtx& ctx) {
  int64_t dim = ctx.attrs.ints[0];
  std::vector<Tensor> grads(ctx.needs_grad.size());
  if (!ctx.grads[0].defined()) return grads;
  int64_t start = 0;
  for (size_t i = 0; i < grads.size(); ++i) {
    int64_t len = ctx.attrs.ints[i + 1];
    if (ctx.needs_grad[i]) grads[i] = Narrow(ctx.grads[0], dim, start, len);
    start += len;
  }
  return grads;
}

}  // namespace kiln::ops
