// The fused causal attention forward, V2: shared-memory tiled flash attention. A block of 256
// threads takes a tile of Bq queries of one (batch, head) (Bq = 64, 32, 16 for HS <= 64, 128, 256)
// and walks the keys in 32-key chunks staged through shared memory (K, V and the chunk's
// probabilities), so every K / V element is read from global memory once per query tile instead
// of once per query (V1, cuda/attention.cu: a warp per query). Per chunk:
//   1. S = scale Q K^T for the tile: each thread 4 x 2 (Bq 64) scores, each score one fmaf chain
//      over d in order (16-byte shared reads), then * scale: V1's dot product;
//   2. the online softmax, one warp per query row with the chunk's 32 keys on its lanes: V1's code
//      (WarpReduce max and sum, the running max m, sum l and the correction expf(m_old - m_new));
//   3. O = O * corr + P V: each thread a 4-row x 4-dim patch of O in registers, one fmaf chain per
//      element over the chunk's visible keys in order.
//
// Exactness: a query's chunks start at the first key of its document and advance by 32 to its own
// position, exactly V1's; masked keys never enter a chain. A query tile whose queries span several
// documents processes them one document group at a time (the groups' key ranges are disjoint and
// each group's chunks start at its document's first key). So every query gets V1's arithmetic in
// V1's order: V2 is bitwise V1 (out and lse; tested through the interpreter), hence batch
// invariant, and decoding a query against a KV cache (Tq < Tk) gives the bits of the full pass.
// The lse is V1's, which the backward (cuda/attention_backward.cu) expects.
//
// Shared memory: Bq x HS4 (Q) + 32 x (HS4 + 4) (K, rows padded: conflict-free 16-byte reads) +
// 32 x HS4 (V) + 32 x (Bq + 4) (P, key-major so a thread reads its 4 rows as one float4) floats of
// dynamic shared memory, HS4 = HS rounded up to 4: 41 KB for HS 64, 53 KB for HS 128, 83 KB for
// HS 256 (above 48 KB the launcher opts in with cudaFuncSetAttribute).
#include "cuda/attention_v2.h"
#include "cuda/kernels.h"
#include "cuda/reduce.cuh"

namespace kiln::KILN_CUDA_NS {
namespace {

constexpr int kAttnThreads = 256;  // 8 warps
constexpr int kAttnWarps = kAttnThreads / 32;
constexpr int kChunk = 32;  // keys per chunk: V1's (one per lane), part of the numerics

// WarpReduce (cuda/reduce.cuh) of N values at once: each v[t] goes through exactly WarpReduce's
// operations (xor butterfly 16, 8, 4, 2, 1, then lane 0's value), the N chains interleaved.
template <int N, typename R>
__device__ __forceinline__ void WarpReduceRows(float (&v)[N], R r) {
  for (int o = 16; o > 0; o /= 2)
    for (int t = 0; t < N; ++t) v[t] = r(v[t], __shfl_xor_sync(kFullMask, v[t], o));
  for (int t = 0; t < N; ++t) v[t] = __shfl_sync(kFullMask, v[t], 0);
}

// The first key of the document of position p (the maximal run of equal ids holding p): the
// largest boundary b <= p (b == 0 or d[b - 1] != d[b]). The block scans backward 256 positions at
// a time; every thread returns it. `hit` is a shared slot per warp.
__device__ int64_t DocStart(const int32_t* __restrict__ d, int64_t p, int64_t* hit) {
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  for (int64_t hi = p;; hi -= kAttnThreads) {
    const int64_t j = hi - tid;
    const bool boundary = j >= 0 && (j == 0 || d[j - 1] != d[j]);
    const unsigned mask = __ballot_sync(kFullMask, boundary);
    if (lane == 0) {
      int first = 0;  // the lowest flagged lane holds this warp's largest boundary
      while (first < 32 && ((mask >> first) & 1u) == 0) ++first;
      hit[warp] = first < 32 ? hi - (warp * 32 + first) : -1;
    }
    __syncthreads();
    int64_t best = -1;
    for (int w = 0; w < kAttnWarps; ++w) best = hit[w] > best ? hit[w] : best;
    __syncthreads();  // every thread read `hit` before the next window rewrites it
    if (best >= 0) return best;
  }
}

// rows x hs4 floats at dst (row stride ld) from rows of hs floats at src: the first `avail` rows
// copied, padding (dims >= hs, rows >= avail) zero. 16-byte loads when `vec` (hs % 4 == 0 and src
// 16-byte aligned).
__device__ __forceinline__ void StageRows(float* dst, int ld, const float* __restrict__ src,
                                          int avail, int rows, int64_t hs, int hs4, bool vec) {
  if (vec) {
    const int q4 = hs4 / 4;
    for (int e = threadIdx.x; e < rows * q4; e += kAttnThreads) {
      const int r = e / q4, c = e % q4;
      const float4 x = r < avail ? reinterpret_cast<const float4*>(src + r * hs)[c]
                                 : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      *reinterpret_cast<float4*>(dst + r * ld + 4 * c) = x;
    }
    return;
  }
  for (int e = threadIdx.x; e < rows * hs4; e += kAttnThreads) {
    const int r = e / hs4, c = e % hs4;
    dst[r * ld + c] = r < avail && c < hs ? src[r * hs + c] : 0.0f;
  }
}

template <int kBq>
__global__ void __launch_bounds__(kAttnThreads)
    AttentionForwardV2(float* __restrict__ out, float* __restrict__ lse,
                       const float* __restrict__ q, const float* __restrict__ k,
                       const float* __restrict__ v, const int32_t* __restrict__ doc, int64_t b,
                       int64_t nh, int64_t nkv, int64_t tq, int64_t tk, int64_t hs, int hs4,
                       float scale, int64_t q_tiles) {
  constexpr int kRowGroups = kBq / 4;                    // O patch: 4 rows x 4 dims per thread
  constexpr int kDimGroups = kAttnThreads / kRowGroups;  // kDimGroups * 4 >= HS4
  constexpr int kScoreRows = kBq / 16;                   // S patch: kScoreRows rows x 2 keys
  constexpr int kRowsPerWarp = kBq / kAttnWarps;         // softmax rows of a warp
  KILN_DYNAMIC_SHARED(float, smem);
  KILN_SHARED(float, m_s, [kBq]);        // running max of each query row
  KILN_SHARED(float, l_s, [kBq]);        // running sum
  KILN_SHARED(float, corr_s, [kBq]);     // this chunk's correction expf(m_old - m_new)
  KILN_SHARED(int, n_s, [kBq]);          // this chunk's visible keys of the row (0: row idle)
  KILN_SHARED(int, first_s, [kBq]);      // 1 where the row's position starts a document
  KILN_SHARED(int64_t, start_s, [kBq]);  // first key of the row's document
  KILN_SHARED(int64_t, hit_s, [kAttnWarps]);
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int64_t bh_count = b * nh;
  const int64_t tile = q_tiles - 1 - static_cast<int64_t>(blockIdx.x) / bh_count;  // long first
  const int64_t bh = static_cast<int64_t>(blockIdx.x) % bh_count;
  const int64_t bb = bh / nh, h = bh % nh, kvh = h / (nh / nkv);
  const int64_t i0 = tile * kBq, off = tk - tq;  // query i sits at position off + i
  const int nq = static_cast<int>(tq - i0 < kBq ? tq - i0 : kBq);
  const int64_t row0 = bh * tq + i0;  // the tile's first row of q / out / lse
  const int ldk = hs4 + 4, ldp = kBq + 4;
  float* qs = smem;
  float* ks = qs + kBq * hs4;
  float* vs = ks + kChunk * ldk;
  float* ps = vs + kChunk * hs4;  // ps[key * ldp + row]: scores, then probabilities
  const float* kb = k + (bb * nkv + kvh) * tk * hs;
  const float* vb = v + (bb * nkv + kvh) * tk * hs;
  const bool vec_q = hs % 4 == 0 && (reinterpret_cast<uintptr_t>(q) & 15) == 0;
  const bool vec_kv = hs % 4 == 0 && (reinterpret_cast<uintptr_t>(k) & 15) == 0 &&
                      (reinterpret_cast<uintptr_t>(v) & 15) == 0;

  StageRows(qs, hs4, q + row0 * hs, nq, kBq, hs, hs4, vec_q);
  const int32_t* dr = doc != nullptr ? doc + bb * tk : nullptr;
  const int64_t base = dr != nullptr ? DocStart(dr, off + i0, hit_s) : 0;
  if (tid < kBq) {
    const int64_t pos = off + i0 + tid;
    first_s[tid] = tid > 0 && tid < nq && dr != nullptr && dr[pos - 1] != dr[pos] ? 1 : 0;
    m_s[tid] = -INFINITY;
    l_s[tid] = 0.0f;
  }
  __syncthreads();
  if (tid < kBq) {
    int r = tid;
    while (r > 0 && first_s[r] == 0) --r;
    start_s[tid] = r > 0 ? off + i0 + r : base;
  }
  __syncthreads();

  const int rg = tid / kDimGroups, dg = tid % kDimGroups;  // O patch: rows rg*4.., dims dg*4..
  const int cg = tid % 16, sg = tid / 16;  // S patch: keys cg, cg + 16; rows sg + 16 i
  float acc[4][4];
  for (int i = 0; i < 4; ++i)
    for (int d = 0; d < 4; ++d) acc[i][d] = 0.0f;

  // Document groups: rows [r_lo, r_hi) share their document's first key s_g (the same for every
  // thread: the loop's bounds come from shared memory).
  for (int r_lo = 0; r_lo < nq;) {
    const int64_t s_g = start_s[r_lo];
    int r_hi = r_lo + 1;
    while (r_hi < nq && start_s[r_hi] == s_g) ++r_hi;
    const int64_t last = off + i0 + r_hi - 1;  // the group's last query position
    for (int64_t c0 = s_g; c0 <= last; c0 += kChunk) {
      const int nk = static_cast<int>(last - c0 + 1 < kChunk ? last - c0 + 1 : kChunk);
      StageRows(ks, ldk, kb + c0 * hs, nk, kChunk, hs, hs4, vec_kv);
      StageRows(vs, hs4, vb + c0 * hs, nk, kChunk, hs, hs4, vec_kv);
      __syncthreads();
      // 1. Scores (rows outside the group or masked keys are computed too and never read).
      {
        float dot[kScoreRows][2];
        for (int i = 0; i < kScoreRows; ++i) dot[i][0] = dot[i][1] = 0.0f;
        const float* k0r = ks + cg * ldk;
        const float* k1r = ks + (cg + 16) * ldk;
        int64_t d = 0;
        for (; d + 4 <= hs; d += 4) {
          const float4 ka = *reinterpret_cast<const float4*>(k0r + d);
          const float4 kc = *reinterpret_cast<const float4*>(k1r + d);
          for (int i = 0; i < kScoreRows; ++i) {
            const float4 qa = *reinterpret_cast<const float4*>(qs + (sg + 16 * i) * hs4 + d);
            dot[i][0] = fmaf(qa.x, ka.x, dot[i][0]);
            dot[i][0] = fmaf(qa.y, ka.y, dot[i][0]);
            dot[i][0] = fmaf(qa.z, ka.z, dot[i][0]);
            dot[i][0] = fmaf(qa.w, ka.w, dot[i][0]);
            dot[i][1] = fmaf(qa.x, kc.x, dot[i][1]);
            dot[i][1] = fmaf(qa.y, kc.y, dot[i][1]);
            dot[i][1] = fmaf(qa.z, kc.z, dot[i][1]);
            dot[i][1] = fmaf(qa.w, kc.w, dot[i][1]);
          }
        }
        for (; d < hs; ++d) {
          for (int i = 0; i < kScoreRows; ++i) {
            const float qd = qs[(sg + 16 * i) * hs4 + d];
            dot[i][0] = fmaf(qd, k0r[d], dot[i][0]);
            dot[i][1] = fmaf(qd, k1r[d], dot[i][1]);
          }
        }
        for (int i = 0; i < kScoreRows; ++i) {
          ps[cg * ldp + sg + 16 * i] = dot[i][0] * scale;
          ps[(cg + 16) * ldp + sg + 16 * i] = dot[i][1] * scale;
        }
      }
      __syncthreads();
      // 2. Online softmax, V1's arithmetic: warp w takes rows w, w + 8, ... with the chunk's keys
      //    on its lanes; the rows' reductions are interleaved (instruction-level parallelism), each
      //    row's operations exactly WarpReduce's. Rows outside the group or before the chunk are
      //    reduced too (uniform shuffles) but change nothing.
      {
        float s[kRowsPerWarp], mx[kRowsPerWarp], p[kRowsPerWarp], sum[kRowsPerWarp];
        bool live[kRowsPerWarp], valid[kRowsPerWarp];
        for (int t = 0; t < kRowsPerWarp; ++t) {
          const int r = warp + kAttnWarps * t;
          const int64_t pos = off + i0 + r;
          live[t] = r >= r_lo && r < r_hi && pos >= c0;  // uniform over the warp
          valid[t] = live[t] && c0 + lane <= pos;
          s[t] = valid[t] ? ps[lane * ldp + r] : -INFINITY;
          mx[t] = s[t];
        }
        WarpReduceRows(mx, MaxOp{});
        float m_new[kRowsPerWarp], corr[kRowsPerWarp];
        for (int t = 0; t < kRowsPerWarp; ++t) {
          const float m_old = m_s[warp + kAttnWarps * t];
          m_new[t] = fmaxf(m_old, mx[t]);
          corr[t] = expf(m_old - m_new[t]);  // 0 on a row's first chunk (m_old = -inf)
          p[t] = valid[t] ? expf(s[t] - m_new[t]) : 0.0f;
          sum[t] = p[t];
        }
        WarpReduceRows(sum, SumOp{});
        float l[kRowsPerWarp];
        for (int t = 0; t < kRowsPerWarp; ++t) {
          const int r = warp + kAttnWarps * t;
          l[t] = l_s[r] * corr[t] + sum[t];
          if (live[t]) ps[lane * ldp + r] = p[t];
        }
        __syncwarp();  // every lane read m_s / l_s before lane 0 replaces them
        if (lane == 0) {
          for (int t = 0; t < kRowsPerWarp; ++t) {
            const int r = warp + kAttnWarps * t;
            const int64_t pos = off + i0 + r;
            n_s[r] = live[t] ? static_cast<int>(pos - c0 + 1 < kChunk ? pos - c0 + 1 : kChunk) : 0;
            if (!live[t]) continue;
            m_s[r] = m_new[t];
            l_s[r] = l[t];
            corr_s[r] = corr[t];
          }
        }
      }
      __syncthreads();
      // 3. O = O * corr + P V over each row's visible keys, in key order.
      {
        int n_i[4];
        int n_min = kChunk, n_max = 0;
        for (int i = 0; i < 4; ++i) {
          const int r = rg * 4 + i;
          n_i[i] = n_s[r];
          if (n_i[i] > 0) {
            const float c = corr_s[r];
            for (int d = 0; d < 4; ++d) acc[i][d] = acc[i][d] * c;
          }
          n_min = n_i[i] < n_min ? n_i[i] : n_min;
          n_max = n_i[i] > n_max ? n_i[i] : n_max;
        }
        if (dg * 4 < hs4) {
          const float4* p4 = reinterpret_cast<const float4*>(ps) + rg;
          const float4* v4 = reinterpret_cast<const float4*>(vs) + dg;
          const int ldp4 = ldp / 4, hq = hs4 / 4;
          for (int jj = 0; jj < n_min; ++jj) {  // every row of the patch sees key jj
            const float4 pv = p4[jj * ldp4], vv = v4[jj * hq];
            const float pr[4] = {pv.x, pv.y, pv.z, pv.w};
            for (int i = 0; i < 4; ++i) {
              acc[i][0] = fmaf(pr[i], vv.x, acc[i][0]);
              acc[i][1] = fmaf(pr[i], vv.y, acc[i][1]);
              acc[i][2] = fmaf(pr[i], vv.z, acc[i][2]);
              acc[i][3] = fmaf(pr[i], vv.w, acc[i][3]);
            }
          }
          for (int jj = n_min; jj < n_max; ++jj) {  // the causal edge: some rows stop earlier
            const float4 pv = p4[jj * ldp4], vv = v4[jj * hq];
            const float pr[4] = {pv.x, pv.y, pv.z, pv.w};
            for (int i = 0; i < 4; ++i) {
              if (jj >= n_i[i]) continue;
              acc[i][0] = fmaf(pr[i], vv.x, acc[i][0]);
              acc[i][1] = fmaf(pr[i], vv.y, acc[i][1]);
              acc[i][2] = fmaf(pr[i], vv.z, acc[i][2]);
              acc[i][3] = fmaf(pr[i], vv.w, acc[i][3]);
            }
          }
        }
      }
      __syncthreads();  // K, V and P are read by all before the next chunk overwrites them
    }
    r_lo = r_hi;
  }

  for (int i = 0; i < 4; ++i) {
    const int r = rg * 4 + i;
    if (r >= nq) continue;
    const float l = l_s[r];
    float* o = out + (row0 + r) * hs;
    for (int d = 0; d < 4; ++d) {
      const int64_t dd = dg * 4 + d;
      if (dd < hs) o[dd] = acc[i][d] / l;
    }
  }
  if (tid < nq && lse != nullptr) lse[row0 + tid] = m_s[tid] + logf(l_s[tid]);
}

template <int kBq>
void LaunchAttentionV2(float* out, float* lse, const float* q, const float* k, const float* v,
                       const int32_t* doc, int64_t b, int64_t nh, int64_t nkv, int64_t tq,
                       int64_t tk, int64_t hs, int hs4, float scale, Stream stream) {
  const int64_t q_tiles = (tq + kBq - 1) / kBq;
  const int64_t blocks = q_tiles * b * nh;
  KILN_CHECK(blocks <= 0x7fffffff)
      << "cuda Attention (V2): too many query tiles (" << blocks << ")";
  const size_t smem =
      static_cast<size_t>(kBq * hs4 + kChunk * (hs4 + 4) + kChunk * hs4 + kChunk * (kBq + 4)) *
      sizeof(float);
#if KILN_CUDA_DEVICE
  // Opt in on every launch: the 48 KB default limit counts the kernel's static arrays too, so
  // comparing the dynamic size alone with 48 KB misses sizes just under it (HS 141-144 at 16
  // queries per block: 49152 dynamic + 512 static bytes).
  KILN_CUDA_CHECK(cudaFuncSetAttribute(AttentionForwardV2<kBq>,
                                       cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       static_cast<int>(smem)));
#endif
  KILN_LAUNCH(AttentionForwardV2<kBq>, dim3(static_cast<unsigned>(blocks)), dim3(kAttnThreads),
              smem, stream, out, lse, q, k, v, doc, b, nh, nkv, tq, tk, hs, hs4, scale, q_tiles);
}

}  // namespace

void AttentionV2(float* out, float* lse, const float* q, const float* k, const float* v,
                 const int32_t* doc, int64_t b, int64_t nh, int64_t nkv, int64_t tq, int64_t tk,
                 int64_t hs, float scale, Stream stream) {
  KILN_CHECK(b >= 0 && nh > 0 && nkv > 0 && nh % nkv == 0 && tq >= 0 && tq <= tk && hs > 0 &&
             hs <= 256)
      << "cuda Attention: B " << b << ", NH " << nh << ", NKV " << nkv << ", Tq " << tq << ", Tk "
      << tk << ", HS " << hs << " (NH % NKV == 0, Tq <= Tk, 0 < HS <= 256)";
  if (b == 0 || tq == 0) return;
  const int hs4 = static_cast<int>((hs + 3) / 4 * 4);
  if (hs4 <= 64) {
    LaunchAttentionV2<64>(out, lse, q, k, v, doc, b, nh, nkv, tq, tk, hs, hs4, scale, stream);
  } else if (hs4 <= 128) {
    LaunchAttentionV2<32>(out, lse, q, k, v, doc, b, nh, nkv, tq, tk, hs, hs4, scale, stream);
  } else {
    LaunchAttentionV2<16>(out, lse, q, k, v, doc, b, nh, nkv, tq, tk, hs, hs4, scale, stream);
  }
}

}  // namespace kiln::KILN_CUDA_NS
