// The Attention and AttentionBackward rows' kernels: unpack KernelArgs into this path's fused
// attention kernels (cpu/attention.h). Strides come straight from the tensors, so (B, T, NH, HS)
// views need no copy.
#include "cpu/attention.h"
#include "cpu/bf16_operands.h"
#include "cpu/kernels.h"

namespace kiln::cpu::KILN_ISA_NS {
namespace {

// The fields both parameter structs share: sizes, scale, dtype, q / k / v and the doc ids.
template <typename P>
void FillShared(const KernelArgs& args, P* p) {
  const KArray &q = args.in[0], &k = args.in[1], &v = args.in[2], &doc = args.in[3];
  p->b = q.sizes[0];
  p->nh = q.sizes[1];
  p->tq = q.sizes[2];
  p->hs = q.sizes[3];
  p->nkv = k.sizes[1];
  p->tk = k.sizes[2];
  p->scale = args.fattr[0];
  p->f64 = q.dtype == DType::kF64;
  p->q = q.data;
  p->q_sb = q.strides[0], p->q_sh = q.strides[1], p->q_st = q.strides[2];
  p->k = k.data;
  p->k_sb = k.strides[0], p->k_sh = k.strides[1], p->k_st = k.strides[2];
  p->v = v.data;
  p->v_sb = v.strides[0], p->v_sh = v.strides[1], p->v_st = v.strides[2];
  p->doc = static_cast<const int32_t*>(doc.data);
  p->doc_sb = doc.data ? doc.strides[0] : 0;
}

}  // namespace

// in: q, k, v, doc (or empty); out: out (B, NH, Tq, HS), lse (B, NH, Tq); fattr[0] scale.
void Attention(const KernelArgs& args_in) {
  const Bf16Operands f32(args_in);  // bf16 q / k / v widened (cpu/bf16_operands.h)
  const KernelArgs& args = f32.args();
  const KArray &o = args.out[0], &lse = args.out[1];
  AttentionParams p;
  FillShared(args, &p);
  p.out = o.data;
  p.out_sb = o.strides[0], p.out_sh = o.strides[1], p.out_st = o.strides[2];
  p.lse = lse.data;
  cpu::KILN_ISA_NS::AttentionForward(p);
}

// in: q, k, v, doc, out, lse, dout; out: dq, dk, dv (contiguous); fattr[0] scale.
void AttentionBackward(const KernelArgs& args_in) {
  const Bf16Operands f32(args_in);
  const KernelArgs& args = f32.args();
  const KArray &o = args.in[4], &lse = args.in[5], &dout = args.in[6];
  const KArray &dq = args.out[0], &dk = args.out[1], &dv = args.out[2];
  AttentionBackwardParams p;
  FillShared(args, &p);
  p.out = o.data;
  p.out_sb = o.strides[0], p.out_sh = o.strides[1], p.out_st = o.strides[2];
  p.lse = lse.data;
  p.dout = dout.data;
  p.dout_sb = dout.strides[0], p.dout_sh = dout.strides[1], p.dout_st = dout.strides[2];
  p.dq = dq.data;
  p.dq_sb = dq.strides[0], p.dq_sh = dq.strides[1], p.dq_st = dq.strides[2];
  p.dk = dk.data;
  p.dk_sb = dk.strides[0], p.dk_sh = dk.strides[1], p.dk_st = dk.strides[2];
  p.dv = dv.data;
  p.dv_sb = dv.strides[0], p.dv_sh = dv.strides[1], p.dv_st = dv.strides[2];
  cpu::KILN_ISA_NS::AttentionBackward(p);
}

}  // namespace kiln::cpu::KILN_ISA_NS
