// CUDA kernel of the fused causal attention forward (flash-attention style: online softmax over
// key chunks, no T x T matrix), multi-head and grouped-query, with optional document ids for
// packed sequences (the semantics of cpu/attention.h). V1: one warp per query; each lane scores one
// key of a 32-key chunk, the chunk max / sum come from warp shuffles, and every lane accumulates
// its HS / 32 output dims over the chunk's keys in order. Chunks start at the first key of the
// query's document, so a query's bits depend only on its own keys: decoding one query against a
// KV cache gives the bits of the full pass (tested), whatever the batch. K / V are read from global
// memory per warp; V2 (cuda/attention_v2.cu) is the shared-memory tiled version with the same bits,
// run instead when cuda/versions.h selects it (KILN_CUDA_KERNELS=attention=v2). The backward is
// cuda/attention_backward.cu (it recomputes the scores with this kernel's dot product).
#include "cuda/attention_v2.h"
#include "cuda/kernels.h"
#include "cuda/reduce.cuh"
#include "cuda/versions.h"

namespace kiln::KILN_CUDA_NS {
namespace {

constexpr int kWarps = 4;
constexpr int kMaxHsPerLane = 8;  // HS <= 256

__global__ void AttentionForwardKernel(float* __restrict__ out, float* __restrict__ lse,
                                       const float* __restrict__ q, const float* __restrict__ k,
                                       const float* __restrict__ v, const int32_t* __restrict__ doc,
                                       int64_t b, int64_t nh, int64_t nkv, int64_t tq, int64_t tk,
                                       int64_t hs, float scale) {
  const int lane = threadIdx.x % 32;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarps + threadIdx.x / 32;
  if (row >= b * nh * tq) return;  // the whole warp leaves: no block barrier below
  const int64_t i = row % tq, h = row / tq % nh, bb = row / (tq * nh);
  const int64_t kvh = h / (nh / nkv);
  const int64_t pos = tk - tq + i;
  int64_t start = 0;
  if (doc != nullptr) {
    const int32_t* d = doc + bb * tk;
    start = pos;
    while (start > 0 && d[start - 1] == d[pos]) --start;
  }
  const float* qp = q + row * hs;
  const float* kb = k + (bb * nkv + kvh) * tk * hs;
  const float* vb = v + (bb * nkv + kvh) * tk * hs;
  float acc[kMaxHsPerLane];
  for (int t = 0; t < kMaxHsPerLane; ++t) acc[t] = 0.0f;
  float m = -INFINITY, l = 0.0f;
  for (int64_t c0 = start; c0 <= pos; c0 += 32) {
    const int64_t j = c0 + lane;
    float s = -INFINITY;
    if (j <= pos) {
      float dot = 0.0f;
      for (int64_t d = 0; d < hs; ++d) dot = fmaf(qp[d], kb[j * hs + d], dot);
      s = dot * scale;
    }
    const float m_new = fmaxf(m, WarpReduce(s, MaxOp{}));
    const float corr = expf(m - m_new);  // 0 on the first chunk (m = -inf)
    const float p = j <= pos ? expf(s - m_new) : 0.0f;
    l = l * corr + WarpReduce(p, SumOp{});
    for (int t = 0; t < kMaxHsPerLane; ++t) acc[t] = acc[t] * corr;
    const int64_t n = pos - c0 + 1 < 32 ? pos - c0 + 1 : 32;
    for (int jj = 0; jj < 32; ++jj) {
      const float pj = __shfl_sync(kFullMask, p, jj);  // every lane takes part, even past n
      if (jj >= n) continue;
      const float* vr = vb + (c0 + jj) * hs;
      for (int t = 0; t < kMaxHsPerLane; ++t) {
        const int64_t d = lane + 32 * t;
        if (d < hs) acc[t] = fmaf(pj, vr[d], acc[t]);
      }
    }
    m = m_new;
  }
  float* o = out + row * hs;
  for (int t = 0; t < kMaxHsPerLane; ++t) {
    const int64_t d = lane + 32 * t;
    if (d < hs) o[d] = acc[t] / l;
  }
  if (lane == 0 && lse != nullptr) lse[row] = m + logf(l);
}

}  // namespace

void Attention(float* out, float* lse, const float* q, const float* k, const float* v,
               const int32_t* doc, int64_t b, int64_t nh, int64_t nkv, int64_t tq, int64_t tk,
               int64_t hs, float scale, Stream stream) {
  KILN_CHECK(b >= 0 && nh > 0 && nkv > 0 && nh % nkv == 0 && tq >= 0 && tq <= tk && hs > 0 &&
             hs <= 32 * kMaxHsPerLane)
      << "cuda Attention: B " << b << ", NH " << nh << ", NKV " << nkv << ", Tq " << tq << ", Tk "
      << tk << ", HS " << hs << " (NH % NKV == 0, Tq <= Tk, 0 < HS <= " << 32 * kMaxHsPerLane
      << ")";
  if (cuda_versions::KernelVersion(cuda_versions::KernelOp::kAttention) == 2) {
    AttentionV2(out, lse, q, k, v, doc, b, nh, nkv, tq, tk, hs, scale, stream);
    return;
  }
  const int64_t rows = b * nh * tq;
  if (rows == 0) return;
  const int64_t blocks = (rows + kWarps - 1) / kWarps;
  KILN_CHECK(blocks <= 0x7fffffff) << "cuda Attention: too many queries (" << rows << ")";
  KILN_LAUNCH(AttentionForwardKernel, dim3(static_cast<unsigned>(blocks)), dim3(32 * kWarps), 0,
              stream, out, lse, q, k, v, doc, b, nh, nkv, tq, tk, hs, scale);
}

}  // namespace kiln::KILN_CUDA_NS
