// Fused causal attention on the CPU (forward and flash-attention-2 style backward), raw-pointer
// level: the op layer fills these plain structs from tensors. The kernels never build a T x T
// tensor, and every reduction runs in a fixed order, so results are bitwise identical across runs,
// thread counts and ISA paths, and batch-invariant (docs/attention.md).
#pragma once

#include <cstdint>

namespace kiln::cpu {

// Causal scaled-dot-product attention, multi-head and grouped-query.
//   q: (B, NH, Tq, HS), k / v: (B, NKV, Tk, HS), out: (B, NH, Tq, HS),
//   lse: (B, NH, Tq) contiguous, the log-sum-exp of each query's scaled scores (saved for the
//   backward; may be null when not needed, e.g. while decoding).
// Strides are in elements for the b, h and t dims; the HS dim is contiguous. So a (B, T, NH, HS)
// layout is q_sb = T*NH*HS, q_sh = HS, q_st = NH*HS, with no copy.
// NH % NKV == 0; query head h reads kv head h / (NH / NKV).
// Query i sits at absolute position Tk - Tq + i (Tq < Tk: decoding against a KV cache) and sees
// the keys j <= its position.
// doc (optional, may be null): int32 document id per key position, (B, Tk) with row stride doc_sb.
// A document is a maximal run of equal consecutive ids (an id that reappears later starts a new
// document); a query sees only the keys of its own run. Since a query always sees itself, every
// query has at least one visible key.
// f64 selects double for every float pointer (gradcheck); else float. Compute is in that type.
struct AttentionParams {
  int64_t b = 0, nh = 0, nkv = 0, tq = 0, tk = 0, hs = 0;
  double scale = 1.0;  // usually 1 / sqrt(HS)
  bool f64 = false;
  const void* q = nullptr;
  int64_t q_sb = 0, q_sh = 0, q_st = 0;
  const void* k = nullptr;
  int64_t k_sb = 0, k_sh = 0, k_st = 0;
  const void* v = nullptr;
  int64_t v_sb = 0, v_sh = 0, v_st = 0;
  void* out = nullptr;
  int64_t out_sb = 0, out_sh = 0, out_st = 0;
  void* lse = nullptr;  // (B, NH, Tq) contiguous, or null
  const int32_t* doc = nullptr;
  int64_t doc_sb = 0;
};

// Gradients of AttentionForward. Inputs: q, k, v, doc as in the forward, out and lse as the
// forward returned them, dout (B, NH, Tq, HS). Outputs (overwritten, not accumulated):
// dq (B, NH, Tq, HS), dk / dv (B, NKV, Tk, HS), each with its own strides.
struct AttentionBackwardParams {
  int64_t b = 0, nh = 0, nkv = 0, tq = 0, tk = 0, hs = 0;
  double scale = 1.0;
  bool f64 = false;
  const void* q = nullptr;
  int64_t q_sb = 0, q_sh = 0, q_st = 0;
  const void* k = nullptr;
  int64_t k_sb = 0, k_sh = 0, k_st = 0;
  const void* v = nullptr;
  int64_t v_sb = 0, v_sh = 0, v_st = 0;
  const void* out = nullptr;
  int64_t out_sb = 0, out_sh = 0, out_st = 0;
  const void* lse = nullptr;  // (B, NH, Tq) contiguous
  const void* dout = nullptr;
  int64_t dout_sb = 0, dout_sh = 0, dout_st = 0;
  const int32_t* doc = nullptr;
  int64_t doc_sb = 0;
  void* dq = nullptr;
  int64_t dq_sb = 0, dq_sh = 0, dq_st = 0;
  void* dk = nullptr;
  int64_t dk_sb = 0, dk_sh = 0, dk_st = 0;
  void* dv = nullptr;
  int64_t dv_sb = 0, dv_sh = 0, dv_st = 0;
};

// Per-ISA kernels (cpu/attention.cc, built once per path).
namespace isa_generic {
void AttentionForward(const AttentionParams& p);
void AttentionBackward(const AttentionBackwardParams& p);
}  // namespace isa_generic
namespace isa_avx2 {
void AttentionForward(const AttentionParams& p);
void AttentionBackward(const AttentionBackwardParams& p);
}  // namespace isa_avx2
namespace isa_avx512 {
void AttentionForward(const AttentionParams& p);
void AttentionBackward(const AttentionBackwardParams& p);
}  // namespace isa_avx512

// Entry points (cpu/dispatch/attention.cc): check the parameters (kiln::Error on a caller's
// mistake) and run the ActiveIsa() kernel.
void AttentionForward(const AttentionParams& p);
void AttentionBackward(const AttentionBackwardParams& p);

}  // namespace kiln::cpu
