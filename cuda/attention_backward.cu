// CUDA kernels of the fused causal attention backward (row AttentionBackward), flash-attention-2
// style and deterministic. With P = softmax(S), S = scale Q K^T (causal, document-masked),
// O = P V and D_i = dO_i . O_i:
//   dV_j = sum_i P_ij dO_i,  dS_ij = P_ij (dO_i . V_j - D_i),
//   dQ_i = scale sum_j dS_ij K_j,  dK_j = scale sum_i dS_ij Q_i.
// P_ij = expf(scale q_i . k_j - lse_i) is recomputed from the forward's saved lse with the
// forward's own dot product (one fmaf chain over d in order, then * scale: cuda/attention.cu),
// tile by tile in shared memory; no T x T matrix exists anywhere and no workspace is needed (D_i is
// recomputed per query tile).
// Two kernels, no atomics:
//   - DkDv: one block per (key tile, batch, kv head) owns dK / dV of its keys; it walks the query
//     heads of the GQA group in order and, within each, the query tiles in increasing order, so
//     each dK / dV element is one fmaf chain over (head of the group, query) increasing: the
//     order of the CPU kernel (cpu/attention.cc), for any tile size, grid or timing. K / V are read
//     in place for every head of the group (no copy).
//   - Dq: one block per (query tile, batch, query head) owns dQ of its queries; each element is one
//     fmaf chain over the visible keys in increasing order (the CPU's order too).
// Masks as the forward: query i sits at position Tk - Tq + i and sees key j iff j <= pos and j is
// in the same document (maximal run of equal ids) as pos; equivalently pos < end(j), the end of
// j's run. The results differ from the CPU kernel's by rounding only (its dot products use 16
// partial sums and kmath's exp); the bits here depend on the shapes only.
#include "cuda/kernels.h"
#include "cuda/portable.h"

namespace kiln::KILN_CUDA_NS {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxTile = 32;
constexpr int kMaxPerThread = 8;  // tile * HS <= 8 * kThreads for every tile size below

// Tile size (queries and keys) for a head size: four (tile x (HS + 1)) float tiles stay under
// 34 KB, so dynamic + static shared memory fits the 48 KB every GPU gives without an opt-in.
// Scheduling only: no bit depends on it.
int TileFor(int64_t hs) { return hs <= 64 ? 32 : hs <= 128 ? 16 : 8; }

// The forward's dot product: one fmaf chain over d in order (cuda/attention.cu).
__device__ __forceinline__ float Dot(const float* a, const float* b, int64_t hs) {
  float s = 0.0f;
  for (int64_t d = 0; d < hs; ++d) s = fmaf(a[d], b[d], s);
  return s;
}

// dK (scaled) and dV of keys [j0, j0 + tile) of kv head (bb, kvh).
__global__ void __launch_bounds__(kThreads)
    AttentionBackwardDkDv(float* __restrict__ dk, float* __restrict__ dv,
                          const float* __restrict__ q, const float* __restrict__ k,
                          const float* __restrict__ v, const float* __restrict__ out,
                          const float* __restrict__ lse, const float* __restrict__ dout,
                          const int32_t* __restrict__ doc, int64_t nh, int64_t nkv, int64_t tq,
                          int64_t tk, int64_t hs, float scale, int tile) {
  KILN_DYNAMIC_SHARED(float, smem);
  KILN_SHARED(float, ps, [kMaxTile][kMaxTile + 1]);
  KILN_SHARED(float, dss, [kMaxTile][kMaxTile + 1]);
  KILN_SHARED(float, lse_s, [kMaxTile]);
  KILN_SHARED(float, d_s, [kMaxTile]);
  KILN_SHARED(int64_t, kend, [kMaxTile]);  // end of each key's document (one past its last key)
  const int tid = threadIdx.x;
  const int64_t ld = hs + 1;  // padded rows: threads of a warp read different rows conflict-free
  float* ks = smem;
  float* vs = ks + tile * ld;
  float* qs = vs + tile * ld;
  float* dos = qs + tile * ld;
  const int64_t j0 = static_cast<int64_t>(blockIdx.x) * tile;
  const int64_t bb = blockIdx.y / nkv, kvh = blockIdx.y % nkv;
  const int64_t group = nh / nkv, off = tk - tq;
  const int64_t nk = tk - j0 < tile ? tk - j0 : tile;
  const float* kb = k + (bb * nkv + kvh) * tk * hs;
  const float* vb = v + (bb * nkv + kvh) * tk * hs;
  for (int64_t e = tid; e < tile * hs; e += kThreads) {
    const int64_t r = e / hs, d = e % hs;
    ks[r * ld + d] = r < nk ? kb[(j0 + r) * hs + d] : 0.0f;
    vs[r * ld + d] = r < nk ? vb[(j0 + r) * hs + d] : 0.0f;
  }
  if (tid < tile) {
    int64_t end = tk;
    if (tid < nk && doc != nullptr) {
      const int32_t* dr = doc + bb * tk;
      end = j0 + tid + 1;
      while (end < tk && dr[end] == dr[j0 + tid]) ++end;
    }
    kend[tid] = tid < nk ? end : 0;
  }
  __syncthreads();
  // Queries that can see a key of the tile: positions [max(j0, off), end of the last key's doc).
  const int64_t i_lo = (j0 > off ? j0 : off) - off;
  const int64_t i_hi = kend[nk - 1] - off;
  float acc_k[kMaxPerThread], acc_v[kMaxPerThread];
  for (int r = 0; r < kMaxPerThread; ++r) acc_k[r] = acc_v[r] = 0.0f;
  for (int64_t g = 0; g < group; ++g) {
    const int64_t row0 = (bb * nh + kvh * group + g) * tq;  // this head's first query row
    for (int64_t i0 = i_lo; i0 < i_hi; i0 += tile) {
      const int64_t ni = i_hi - i0 < tile ? i_hi - i0 : tile;
      for (int64_t e = tid; e < tile * hs; e += kThreads) {
        const int64_t r = e / hs, d = e % hs;
        qs[r * ld + d] = r < ni ? q[(row0 + i0 + r) * hs + d] : 0.0f;
        dos[r * ld + d] = r < ni ? dout[(row0 + i0 + r) * hs + d] : 0.0f;
      }
      if (tid < tile) {
        lse_s[tid] = tid < ni ? lse[row0 + i0 + tid] : 0.0f;
        d_s[tid] =
            tid < ni ? Dot(dout + (row0 + i0 + tid) * hs, out + (row0 + i0 + tid) * hs, hs) : 0.0f;
      }
      __syncthreads();
      for (int e = tid; e < tile * tile; e += kThreads) {
        const int r = e / tile, c = e % tile;
        const int64_t pos = off + i0 + r, j = j0 + c;
        float p = 0.0f, ds = 0.0f;
        if (r < ni && c < nk && j <= pos && pos < kend[c]) {
          p = expf(Dot(qs + r * ld, ks + c * ld, hs) * scale - lse_s[r]);
          ds = p * (Dot(dos + r * ld, vs + c * ld, hs) - d_s[r]);
        }
        ps[r][c] = p;
        dss[r][c] = ds;
      }
      __syncthreads();
      for (int t = 0; t < kMaxPerThread; ++t) {  // no break: the loop unrolls into registers
        const int64_t e = tid + static_cast<int64_t>(t) * kThreads;
        const int c = static_cast<int>(e / hs);
        const int64_t d = e % hs, j = j0 + c;
        for (int r = 0; e < nk * hs && r < ni; ++r) {
          const int64_t pos = off + i0 + r;
          if (j > pos || pos >= kend[c]) continue;  // masked pairs are skipped, as on the CPU
          acc_v[t] = fmaf(ps[r][c], dos[r * ld + d], acc_v[t]);
          acc_k[t] = fmaf(dss[r][c], qs[r * ld + d], acc_k[t]);
        }
      }
      __syncthreads();  // the tiles are read by all before the next query tile overwrites them
    }
  }
  float* dkb = dk + (bb * nkv + kvh) * tk * hs;
  float* dvb = dv + (bb * nkv + kvh) * tk * hs;
  for (int t = 0; t < kMaxPerThread; ++t) {
    const int64_t e = tid + static_cast<int64_t>(t) * kThreads;
    if (e >= nk * hs) break;
    dkb[j0 * hs + e] = acc_k[t] * scale;
    dvb[j0 * hs + e] = acc_v[t];
  }
}

// dQ (scaled) of queries [i0, i0 + tile) of query head (bb, h).
__global__ void __launch_bounds__(kThreads)
    AttentionBackwardDq(float* __restrict__ dq, const float* __restrict__ q,
                        const float* __restrict__ k, const float* __restrict__ v,
                        const float* __restrict__ out, const float* __restrict__ lse,
                        const float* __restrict__ dout, const int32_t* __restrict__ doc, int64_t nh,
                        int64_t nkv, int64_t tq, int64_t tk, int64_t hs, float scale, int tile) {
  KILN_DYNAMIC_SHARED(float, smem);
  KILN_SHARED(float, dss, [kMaxTile][kMaxTile + 1]);
  KILN_SHARED(float, lse_s, [kMaxTile]);
  KILN_SHARED(float, d_s, [kMaxTile]);
  KILN_SHARED(int64_t, qstart, [kMaxTile]);  // first key of each query's document
  const int tid = threadIdx.x;
  const int64_t ld = hs + 1;
  float* qs = smem;
  float* dos = qs + tile * ld;
  float* ks = dos + tile * ld;
  float* vs = ks + tile * ld;
  const int64_t i0 = static_cast<int64_t>(blockIdx.x) * tile;
  const int64_t bb = blockIdx.y / nh, h = blockIdx.y % nh;
  const int64_t kvh = h / (nh / nkv), off = tk - tq;
  const int64_t ni = tq - i0 < tile ? tq - i0 : tile;
  const int64_t row0 = (bb * nh + h) * tq;
  const float* kb = k + (bb * nkv + kvh) * tk * hs;
  const float* vb = v + (bb * nkv + kvh) * tk * hs;
  for (int64_t e = tid; e < tile * hs; e += kThreads) {
    const int64_t r = e / hs, d = e % hs;
    qs[r * ld + d] = r < ni ? q[(row0 + i0 + r) * hs + d] : 0.0f;
    dos[r * ld + d] = r < ni ? dout[(row0 + i0 + r) * hs + d] : 0.0f;
  }
  if (tid < tile) {
    const int64_t pos = off + i0 + tid;
    int64_t start = 0;
    if (tid < ni && doc != nullptr) {
      const int32_t* dr = doc + bb * tk;
      start = pos;
      while (start > 0 && dr[start - 1] == dr[pos]) --start;
    }
    qstart[tid] = tid < ni ? start : tk;
    lse_s[tid] = tid < ni ? lse[row0 + i0 + tid] : 0.0f;
    d_s[tid] =
        tid < ni ? Dot(dout + (row0 + i0 + tid) * hs, out + (row0 + i0 + tid) * hs, hs) : 0.0f;
  }
  __syncthreads();
  int64_t j_lo = qstart[0];
  for (int r = 1; r < ni; ++r) j_lo = qstart[r] < j_lo ? qstart[r] : j_lo;
  const int64_t j_hi = off + i0 + ni;  // one past the last query's position
  float acc[kMaxPerThread];
  for (int r = 0; r < kMaxPerThread; ++r) acc[r] = 0.0f;
  for (int64_t j0 = j_lo; j0 < j_hi; j0 += tile) {
    const int64_t nk = j_hi - j0 < tile ? j_hi - j0 : tile;
    for (int64_t e = tid; e < tile * hs; e += kThreads) {
      const int64_t r = e / hs, d = e % hs;
      ks[r * ld + d] = r < nk ? kb[(j0 + r) * hs + d] : 0.0f;
      vs[r * ld + d] = r < nk ? vb[(j0 + r) * hs + d] : 0.0f;
    }
    __syncthreads();
    for (int e = tid; e < tile * tile; e += kThreads) {
      const int r = e / tile, c = e % tile;
      const int64_t pos = off + i0 + r, j = j0 + c;
      float ds = 0.0f;
      if (r < ni && c < nk && j <= pos && j >= qstart[r]) {
        const float p = expf(Dot(qs + r * ld, ks + c * ld, hs) * scale - lse_s[r]);
        ds = p * (Dot(dos + r * ld, vs + c * ld, hs) - d_s[r]);
      }
      dss[r][c] = ds;
    }
    __syncthreads();
    for (int t = 0; t < kMaxPerThread; ++t) {  // no break: the loop unrolls into registers
      const int64_t e = tid + static_cast<int64_t>(t) * kThreads;
      const int r = static_cast<int>(e / hs);
      const int64_t d = e % hs, pos = off + i0 + r;
      for (int c = 0; e < ni * hs && c < nk; ++c) {
        const int64_t j = j0 + c;
        if (j > pos || j < qstart[r]) continue;
        acc[t] = fmaf(dss[r][c], ks[c * ld + d], acc[t]);
      }
    }
    __syncthreads();
  }
  for (int t = 0; t < kMaxPerThread; ++t) {
    const int64_t e = tid + static_cast<int64_t>(t) * kThreads;
    if (e >= ni * hs) break;
    dq[(row0 + i0) * hs + e] = acc[t] * scale;
  }
}

}  // namespace

void AttentionBackward(float* dq, float* dk, float* dv, const float* q, const float* k,
                       const float* v, const float* out, const float* lse, const float* dout,
                       const int32_t* doc, int64_t b, int64_t nh, int64_t nkv, int64_t tq,
                       int64_t tk, int64_t hs, float scale, Stream stream) {
  KILN_CHECK(b >= 0 && nh > 0 && nkv > 0 && nh % nkv == 0 && tq >= 0 && tq <= tk && hs > 0 &&
             hs <= 256)
      << "cuda AttentionBackward: B " << b << ", NH " << nh << ", NKV " << nkv << ", Tq " << tq
      << ", Tk " << tk << ", HS " << hs << " (NH % NKV == 0, Tq <= Tk, 0 < HS <= 256)";
  KILN_CHECK(b * nh <= 65535) << "cuda AttentionBackward: B * NH = " << b * nh
                              << " exceeds the grid's y limit 65535";
  if (b == 0 || tk == 0) return;
  const int tile = TileFor(hs);
  const size_t smem = static_cast<size_t>(4 * tile * (hs + 1)) * sizeof(float);
  const int64_t key_tiles = (tk + tile - 1) / tile, query_tiles = (tq + tile - 1) / tile;
  KILN_CHECK(key_tiles <= 0x7fffffff) << "cuda AttentionBackward: Tk " << tk << " too large";
  KILN_LAUNCH(AttentionBackwardDkDv,
              dim3(static_cast<unsigned>(key_tiles), static_cast<unsigned>(b * nkv)),
              dim3(kThreads), smem, stream, dk, dv, q, k, v, out, lse, dout, doc, nh, nkv, tq, tk,
              hs, scale, tile);
  if (tq == 0) return;
  KILN_LAUNCH(AttentionBackwardDq,
              dim3(static_cast<unsigned>(query_tiles), static_cast<unsigned>(b * nh)),
              dim3(kThreads), smem, stream, dq, q, k, v, out, lse, dout, doc, nh, nkv, tq, tk, hs,
              scale, tile);
}

}  // namespace kiln::KILN_CUDA_NS
