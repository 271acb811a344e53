// Matmul (batched, transposed operands, shared 2-D weight): shape checks, layout canonicalization
// (a transposed view becomes the transpose flag instead of a copy), the backward formula.
#include "ops/api.h"
#include "ops/backward.h"
#include "ops/dispatch.h"

namespace kiln::ops {
namespace {

// Makes the last dim of x contiguous: returns (tensor, flipped) where flipped means x's last two
// dims were taken from a transposed layout (stride 1 on dim -2) and the caller must flip trans.
std::pair<Tensor, bool> Canonical(const Tensor& x) {
  int64_t nd = x.dim();
  if (x.strides()[nd - 1] == 1 || x.shape()[nd - 1] == 1) {
    if (x.shape()[nd - 1] == 1 && x.strides()[nd - 1] != 1) {
      // A single column: any stride works for the last dim, but the kernel reads stride[-2].
      return {Contiguous(x), false};
    }
    return {x, false};
  }
  if (x.strides()[nd - 2] == 1) return {Transpose(x, -1, -2), true};
  return {Contiguous(x), false};
}

}  // namespace

// in[0] a, in[1] b (last dim contiguous), out[0] (batch..., M, N); iattr: trans_a, trans_b,
// number of batch dims; iattr[3..5] the weight hint of a 2-D b (ops/weight_hint.h).
Tensor Matmul(const Tensor& a_in, const Tensor& b_in, bool trans_a, bool trans_b, bool stable_b) {
  const DType rt = GemmDtype(a_in, b_in, "Matmul", "a", "b");
  KILN_CHECK(a_in.dim() >= 2 && b_in.dim() >= 2)
      << "Matmul: expected a and b with at least 2 dims, got shapes " << ShapeToString(a_in.shape())
      << " and " << ShapeToString(b_in.shape());
  KILN_CHECK(b_in.dim() == 2 || b_in.dim() == a_in.dim())
      << "Matmul: b must be 2-D or have a's batch dims, got shapes " << ShapeToString(a_in.shape())
      << " and " << ShapeToString(b_in.shape());
  int64_t nd = a_in.dim();
  int64_t m = trans_a ? a_in.size(-1) : a_in.size(-2);
  int64_t ka = trans_a ? a_in.size(-2) : a_in.size(-1);
  int64_t kb = trans_b ? b_in.size(-1) : b_in.size(-2);
  int64_t n = trans_b ? b_in.size(-2) : b_in.size(-1);
  KILN_CHECK(ka == kb) << "Matmul: inner dims differ: a " << ShapeToString(a_in.shape())
                       << (trans_a ? " (transposed)" : "") << " has K=" << ka << ", b "
                       << ShapeToString(b_in.shape()) << (trans_b ? " (transposed)" : "")
                       << " has K=" << kb;
  Shape out_shape(a_in.shape().begin(), a_in.shape().end() - 2);
  if (b_in.dim() > 2) {
    for (int64_t d = 0; d < nd - 2; ++d) {
      KILN_CHECK(a_in.shape()[d] == b_in.shape()[d])
          << "Matmul: batch dims differ: " << ShapeToString(a_in.shape()) << " vs "
          << ShapeToString(b_in.shape());
    }
  }
  out_shape.push_back(m);
  out_shape.push_back(n);
  Tensor out = Tensor::Empty(out_shape, rt, a_in.device());
  if (out.numel() == 0) return out;
  if (ka == 0) {
    out.Fill_(0.0);
    return out;
  }

  auto [a, flip_a] = Canonical(a_in);
  auto [b, flip_b] = Canonical(b_in);
  bool ta = trans_a != flip_a, tb = trans_b != flip_b;
  Tensor out2 = out;
  int64_t batch_dims = nd - 2;
  // A shared weight with a batched, row-major a: one big GEMM over all rows (batch into M).
  if (b.dim() == 2 && nd > 2 && !ta) {
    Shape flat = {NumElements(a.shape()) / a.size(-1), a.size(-1)};
    Tensor a_flat;
    if (a.is_contiguous()) {
      a_flat = View(a, flat);
    } else {
      a_flat = View(Contiguous(a), flat);
    }
    a = a_flat;
    out2 = View(out, {flat[0], n});
    batch_dims = 0;
  }
  KernelArgs args;
  args.in[0] = ToKArray(a);
  args.in[1] = ToKArray(b);
  args.n_in = 2;
  args.out[0] = ToKArray(out2);
  args.n_out = 1;
  args.iattr[0] = ta;
  args.iattr[1] = tb;
  args.iattr[2] = batch_dims;
  // Canonical() only re-views a weight whose last dim is contiguous (same storage); a copy is not
  // the parameter and gets no hint.
  SetWeightHint(args, 3, b,
                stable_b && b.dim() == 2 && b.storage() == b_in.storage() &&
                    b.dtype() == DType::kF32);
  RunKernel(Op::kMatmul, args, a.device());
  return out;
}

Tensor GemmGrad(const Tensor& g, const Tensor& a, const Tensor& b) {
  const bool bf16 = (a.defined() && a.dtype() == DType::kBF16) ||
                    (b.defined() && b.dtype() == DType::kBF16);
  return bf16 && g.dtype() == DType::kF32 ? Cast(g, DType::kBF16) : g;
}

// attrs.ints: trans_a, trans_b. inputs: a, b.
std::vector<Tensor> BackwardMatmul(const BackwardCtx& ctx) {
  const Tensor &a = ctx.inputs[0], &b = ctx.inputs[1];
  const Tensor g = GemmGrad(ctx.grads[0], a, b);
  bool ta = ctx.attrs.ints[0] != 0, tb = ctx.attrs.ints[1] != 0;
  Tensor ga, gb;
  if (ctx.needs_grad[0]) {
    // d op(A) = dC op(B)^T; A itself is op(A) transposed back when trans_a.
    Tensor d = Matmul(g, b, false, !tb);
    ga = ta ? Contiguous(Transpose(d, -1, -2)) : d;
  }
  if (ctx.needs_grad[1]) {
    Tensor d;  // d op(B) = op(A)^T dC, summed over the batch when b is a shared 2-D weight
    if (b.dim() == 2 && a.dim() > 2) {
      int64_t k = tb ? b.size(-1) : b.size(-2);
      Tensor a2 = Reshape(ta ? Transpose(a, -1, -2) : a, {-1, k});
      Tensor g2 = Reshape(g, {-1, g.size(-1)});
      d = Matmul(a2, g2, true, false);
    } else {
      d = Matmul(a, g, !ta, false);
    }
    gb = tb ? Contiguous(Transpose(d, -1, -2)) : d;
  }
  return {ga, gb};
}

}  // namespace kiln::ops
