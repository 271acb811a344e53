// Fused causal attention (multi-head / grouped-query, KV offset for decoding, optional per-token
// document ids for packed sequences): checks and dispatch; the kernels keep no T x T tensor.
#include <cmath>

#include "ops/api.h"
#include "ops/backward.h"
#include "ops/dispatch.h"

namespace kiln::ops {
namespace {

Tensor LastDimContiguous(const Tensor& x) {
  return x.strides()[x.dim() - 1] == 1 || x.shape()[x.dim() - 1] == 1 ? x : Contiguous(x);
}

Tensor DocIds(const Tensor& doc, int64_t b, int64_t tk) {
  if (!doc.defined()) return doc;
  CheckIndexDtype(doc, "Attention", "doc_ids");
  KILN_CHECK(doc.dim() == 2 && doc.size(0) == b && doc.size(1) == tk)
      << "Attention: expected doc_ids of shape " << ShapeToString({b, tk}) << ", got "
      << ShapeToString(doc.shape());
  Tensor d = doc.dtype() == DType::kI32 ? doc : Cast(doc, DType::kI32);
  return d.strides()[1] == 1 ? d : Contiguous(d);
}

// An uninitialized (B, H, T, HS) tensor laid out in memory as (B, T, H, HS): the layout the
// model's next op (the output projection, or the q/k/v projection's gradient) reads, so the
// permute back to (B, T, H, HS) is a plain view and no copy is made.
Tensor EmptyHeadsLast(const Shape& bhts, DType dtype, Device device) {
  return Permute(Tensor::Empty({bhts[0], bhts[2], bhts[1], bhts[3]}, dtype, device),
                 {0, 2, 1, 3});
}

// Returns the dtype of the outputs and gradients: q, k, v are f32 or bf16 (mixed precision; read
// exactly as f32: the result is f32) or all f64.
DType CheckQkv(const Tensor& q, const Tensor& k, const Tensor& v) {
  const DType rt = GemmDtype(q, k, "Attention", "q", "k");
  GemmDtype(q, v, "Attention", "q", "v");
  KILN_CHECK(q.dim() == 4 && k.dim() == 4 && v.dim() == 4)
      << "Attention: expected q (B, NH, Tq, HS) and k, v (B, NKV, Tk, HS), got shapes "
      << ShapeToString(q.shape()) << ", " << ShapeToString(k.shape()) << ", "
      << ShapeToString(v.shape());
  KILN_CHECK(k.shape() == v.shape()) << "Attention: k " << ShapeToString(k.shape())
                                     << " and v " << ShapeToString(v.shape()) << " differ";
  KILN_CHECK(q.size(0) == k.size(0) && q.size(3) == k.size(3))
      << "Attention: batch or head size of q " << ShapeToString(q.shape()) << " and k "
      << ShapeToString(k.shape()) << " differ";
  KILN_CHECK(k.size(1) > 0 && q.size(1) % k.size(1) == 0)
      << "Attention: NH=" << q.size(1) << " is not a multiple of NKV=" << k.size(1);
  KILN_CHECK(q.size(2) <= k.size(2))
      << "Attention: more queries (Tq=" << q.size(2) << ") than keys (Tk=" << k.size(2) << ")";
  return rt;
}

}  // namespace

std::vector<Tensor> Attention(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in,
                              const Tensor& doc_in, double scale) {
  const DType rt = CheckQkv(q_in, k_in, v_in);
  Tensor q = LastDimContiguous(q_in), k = LastDimContiguous(k_in), v = LastDimContiguous(v_in);
  Tensor doc = DocIds(doc_in, q.size(0), k.size(2));
  if (scale <= 0) scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  Tensor out = EmptyHeadsLast(q.shape(), rt, q.device());
  Tensor lse = Tensor::Empty({q.size(0), q.size(1), q.size(2)}, rt, q.device());
  if (out.numel() == 0) return {out, lse};
  KernelArgs args;
  args.in[0] = ToKArray(q);
  args.in[1] = ToKArray(k);
  args.in[2] = ToKArray(v);
  args.in[3] = ToKArray(doc);
  args.n_in = 4;
  args.out[0] = ToKArray(out);
  args.out[1] = ToKArray(lse);
  args.n_out = 2;
  args.fattr[0] = scale;
  RunKernel(Op::kAttention, args, q.device());
  return {out, lse};
}

std::vector<Tensor> AttentionBackward(const Tensor& q_in, const Tensor& k_in, const Tensor& v_in,
                                      const Tensor& doc_in, const Tensor& out, const Tensor& lse,
                                      const Tensor& grad_out, double scale) {
  const DType rt = CheckQkv(q_in, k_in, v_in);
  KILN_CHECK(grad_out.shape() == q_in.shape())
      << "AttentionBackward: grad_out " << ShapeToString(grad_out.shape())
      << " does not match the output shape " << ShapeToString(q_in.shape());
  for (const Tensor* t : {&out, &lse, &grad_out}) {
    KILN_CHECK(t->dtype() == rt) << "AttentionBackward: expected out, lse and grad_out of dtype "
                                 << DTypeName(rt) << ", got " << DTypeName(t->dtype());
  }
  Tensor q = LastDimContiguous(q_in), k = LastDimContiguous(k_in), v = LastDimContiguous(v_in);
  Tensor doc = DocIds(doc_in, q.size(0), k.size(2));
  Tensor o = LastDimContiguous(out), go = LastDimContiguous(grad_out);
  Tensor l = Contiguous(lse);
  if (scale <= 0) scale = 1.0 / std::sqrt(static_cast<double>(q.size(3)));
  Tensor dq = EmptyHeadsLast(q.shape(), rt, q.device());
  Tensor dk = EmptyHeadsLast(k.shape(), rt, k.device());
  Tensor dv = EmptyHeadsLast(v.shape(), rt, v.device());
  if (q.numel() == 0 || k.numel() == 0) {
    dq.Fill_(0);
    dk.Fill_(0);
    dv.Fill_(0);
    return {dq, dk, dv};
  }
  KernelArgs args;
  const Tensor* ins[] = {&q, &k, &v, &doc, &o, &l, &go};
  for (int i = 0; i < 7; ++i) args.in[i] = ToKArray(*ins[i]);
  args.n_in = 7;
  args.out[0] = ToKArray(dq);
  args.out[1] = ToKArray(dk);
  args.out[2] = ToKArray(dv);
  args.n_out = 3;
  args.fattr[0] = scale;
  RunKernel(Op::kAttentionBackward, args, q.device());
  return {dq, dk, dv};
}

// inputs: q, k, v, doc; outputs: out, lse; attrs.floats[0]: scale.
std::vector<Tensor> BackwardAttention(const BackwardCtx& ctx) {
  Tensor g = ctx.grads[0];
  if (!g.defined()) g = Zeros(ctx.outputs[0].shape(), ctx.outputs[0].dtype(), ctx.outputs[0].device());
  auto grads = AttentionBackward(ctx.inputs[0], ctx.inputs[1], ctx.inputs[2], ctx.inputs[3],
                                 ctx.outputs[0], ctx.outputs[1], g, ctx.attrs.floats[0]);
  return {ctx.needs_grad[0] ? grads[0] : Tensor(), ctx.needs_grad[1] ? grads[1] : Tensor(),
          ctx.needs_grad[2] ? grads[2] : Tensor(), Tensor()};
}

}  // namespace kiln::ops
