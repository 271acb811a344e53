// Fused causal attention kernels (forward + flash-attention-2 style backward), built once per ISA
// path. Forward and backward share one file because the backward must recompute every score with
// exactly the forward's arithmetic (same dot product, same exp), and kernel files may not share
// inline helpers through a header. The numerics are fixed by kLanes and kChunk below, never by the
// vector width, the thread count or the tiling: see docs/attention.md.
#include "cpu/attention.h"

#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <new>

#include "base/kmath.h"
#include "base/thread_pool.h"

namespace kiln::cpu::KILN_ISA_NS {
namespace {

using kmath::Exp;
using kmath::Fma;
using kmath::Log;

// Part of the numerics (changing them changes the bits):
// each score is a dot product kept in kLanes partial sums (lane l takes the dims d = l mod 16, in
// increasing d), combined by the tree (l, l+8), (l, l+4), (l, l+2), (l, l+1);
constexpr int kLanes = 16;
// the online softmax consumes keys in chunks of kChunk, counted from the first key of the
// query's document.
constexpr int64_t kChunk = 64;
// Scheduling only (any value gives the same bits): queries per forward / dq work item, keys per
// dk / dv work item.
constexpr int64_t kQueryBlock = 16;
constexpr int64_t kKeyBlock = 32;

template <typename T>
T* Alloc(int64_t n) {
  size_t bytes = static_cast<size_t>(n > 0 ? n : 1) * sizeof(T);
  bytes = (bytes + 63) / 64 * 64;
  return static_cast<T*>(::operator new[](bytes, std::align_val_t(64)));
}
template <typename T>
void Free(T* p) {
  ::operator delete[](p, std::align_val_t(64));
}

// sum_d a[d] * b[d] for d < n in the fixed kLanes-partial-sum order. The lane loop has no
// cross-lane dependence, so vectorizing it (1x16, 2x8 or 4x4 lanes) cannot change the bits.
template <typename T>
inline T Dot(const T* __restrict a, const T* __restrict b, int64_t n) {
  T p[kLanes];
  for (int l = 0; l < kLanes; ++l) p[l] = T(0);
  int64_t d = 0;
  for (; d + kLanes <= n; d += kLanes) {
    for (int l = 0; l < kLanes; ++l) p[l] = Fma(a[d + l], b[d + l], p[l]);
  }
  for (int l = 0; d + l < n; ++l) p[l] = Fma(a[d + l], b[d + l], p[l]);
  for (int l = 0; l < 8; ++l) p[l] = p[l] + p[l + 8];
  for (int l = 0; l < 4; ++l) p[l] = p[l] + p[l + 4];
  for (int l = 0; l < 2; ++l) p[l] = p[l] + p[l + 2];
  return p[0] + p[1];
}

// The same dot product with explicit vectors for float (the compiler does not vectorize the
// lane loop above on its own). Lanes 0-15 and the combining tree are exactly Dot's: masked-off
// tail lanes keep their partial sum, and each halving adds lane l and lane l + width/2.
#if KILN_ISA_avx512
template <>
inline float Dot<float>(const float* __restrict a, const float* __restrict b, int64_t n) {
  __m512 p = _mm512_setzero_ps();
  int64_t d = 0;
  for (; d + 16 <= n; d += 16)
    p = _mm512_fmadd_ps(_mm512_loadu_ps(a + d), _mm512_loadu_ps(b + d), p);
  if (d < n) {
    const __mmask16 m = static_cast<__mmask16>((1u << (n - d)) - 1);
    p = _mm512_mask3_fmadd_ps(_mm512_maskz_loadu_ps(m, a + d), _mm512_maskz_loadu_ps(m, b + d), p,
                              m);
  }
  // Halves through memory: GCC 12's 512->256 cast / extract intrinsics trip -Wuninitialized.
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, p);
  __m256 h8 = _mm256_add_ps(_mm256_load_ps(lanes), _mm256_load_ps(lanes + 8));
  __m128 h4 = _mm_add_ps(_mm256_castps256_ps128(h8), _mm256_extractf128_ps(h8, 1));
  __m128 h2 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
  return _mm_cvtss_f32(_mm_add_ss(h2, _mm_shuffle_ps(h2, h2, 1)));
}
#elif KILN_ISA_avx2
template <>
inline float Dot<float>(const float* __restrict a, const float* __restrict b, int64_t n) {
  __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
  int64_t d = 0;
  for (; d + 16 <= n; d += 16) {
    lo = _mm256_fmadd_ps(_mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d), lo);
    hi = _mm256_fmadd_ps(_mm256_loadu_ps(a + d + 8), _mm256_loadu_ps(b + d + 8), hi);
  }
  if (d < n) {
    // Tail lanes beyond n load 0, and fma(0, 0, p) == p since a partial sum is never -0.
    alignas(32) static const int32_t kIdx[16] = {0, 1, 2,  3,  4,  5,  6,  7,
                                                 8, 9, 10, 11, 12, 13, 14, 15};
    const __m256i left = _mm256_set1_epi32(static_cast<int32_t>(n - d));
    const __m256i mlo =
        _mm256_cmpgt_epi32(left, _mm256_load_si256(reinterpret_cast<const __m256i*>(kIdx)));
    const __m256i mhi =
        _mm256_cmpgt_epi32(left, _mm256_load_si256(reinterpret_cast<const __m256i*>(kIdx + 8)));
    lo = _mm256_fmadd_ps(_mm256_maskload_ps(a + d, mlo), _mm256_maskload_ps(b + d, mlo), lo);
    hi =
        _mm256_fmadd_ps(_mm256_maskload_ps(a + d + 8, mhi), _mm256_maskload_ps(b + d + 8, mhi), hi);
  }
  __m256 h8 = _mm256_add_ps(lo, hi);
  __m128 h4 = _mm_add_ps(_mm256_castps256_ps128(h8), _mm256_extractf128_ps(h8, 1));
  __m128 h2 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
  return _mm_cvtss_f32(_mm_add_ss(h2, _mm_shuffle_ps(h2, h2, 1)));
}
#endif

// kmath::Exp without branches (selects instead), so a loop of it vectorizes; for every x it
// returns exactly kmath::Exp(x) because the in-range arithmetic is kmath's own.
template <typename T>
inline T ExpSelect(T x) {
  using Lim = kmath::Ln2<T>;
  using I = typename kmath::Bits<T>::I;
  const T xc = x < Lim::kMin ? Lim::kMin : (x > Lim::kMax ? Lim::kMax : x);
  I n;
  const T r = kmath::Reduce(xc, &n);
  const T e = kmath::Expm1Small(r) + T(1);
  const I n1 = n / 2, n2 = n - n / 2;
  const T y = e * kmath::Pow2<T>(n1) * kmath::Pow2<T>(n2);
  const T big = x > Lim::kMax ? T(INFINITY) : y;
  const T out = x < Lim::kMin ? T(0) : big;
  return x != x ? x : out;
}

// First key and one past the last key of the document holding each key position: (B, Tk) each,
// or null arrays when there are no document ids (then every key is in document [0, Tk)).
struct DocRanges {
  int64_t* start = nullptr;
  int64_t* end = nullptr;
  int64_t tk = 0;

  int64_t Start(int64_t b, int64_t t) const { return start ? start[b * tk + t] : 0; }
  int64_t End(int64_t b, int64_t t) const { return end ? end[b * tk + t] : tk; }
};

DocRanges MakeDocRanges(const int32_t* doc, int64_t doc_sb, int64_t nb, int64_t tk) {
  DocRanges r;
  r.tk = tk;
  if (doc == nullptr) return r;
  r.start = Alloc<int64_t>(nb * tk);
  r.end = Alloc<int64_t>(nb * tk);
  for (int64_t b = 0; b < nb; ++b) {
    const int32_t* d = doc + b * doc_sb;
    int64_t* s = r.start + b * tk;
    int64_t* e = r.end + b * tk;
    for (int64_t t = 0; t < tk; ++t) s[t] = (t > 0 && d[t] == d[t - 1]) ? s[t - 1] : t;
    for (int64_t t = tk - 1; t >= 0; --t)
      e[t] = (t + 1 < tk && d[t] == d[t + 1]) ? e[t + 1] : t + 1;
  }
  return r;
}

void FreeDocRanges(DocRanges& r) {
  if (r.start) Free(r.start);
  if (r.end) Free(r.end);
  r.start = r.end = nullptr;
}

// One query row of the forward: keys [first, pos] of one kv head (k / v rows k_st / v_st apart).
// acc is HS scratch. Writes out_row (HS) and *lse (if lse is not null).
template <typename T>
void ForwardRow(const T* __restrict q, const T* __restrict k, int64_t k_st, const T* __restrict v,
                int64_t v_st, int64_t hs, T scale, int64_t first, int64_t pos, T* __restrict acc,
                T* __restrict out_row, T* lse) {
  T s[kChunk];
  T m = -T(INFINITY), l = T(0);
  for (int64_t d = 0; d < hs; ++d) acc[d] = T(0);
  for (int64_t c0 = first; c0 <= pos; c0 += kChunk) {
    const int64_t n = (pos + 1 - c0) < kChunk ? (pos + 1 - c0) : kChunk;
    T mc = -T(INFINITY);
    for (int64_t j = 0; j < n; ++j) {
      s[j] = Dot(q, k + (c0 + j) * k_st, hs) * scale;
      mc = s[j] > mc ? s[j] : mc;
    }
    const T m_new = m > mc ? m : mc;
    // First chunk: m = -inf, so alpha = Exp(-inf) = 0 and l, acc stay 0.
    const T alpha = Exp(m - m_new);
    l = l * alpha;
    for (int64_t d = 0; d < hs; ++d) acc[d] = acc[d] * alpha;
    for (int64_t j = 0; j < n; ++j) s[j] = ExpSelect(s[j] - m_new);
    for (int64_t j = 0; j < n; ++j) {
      const T pj = s[j];
      l = l + pj;
      const T* vj = v + (c0 + j) * v_st;
      for (int64_t d = 0; d < hs; ++d) acc[d] = Fma(pj, vj[d], acc[d]);
    }
    m = m_new;
  }
  for (int64_t d = 0; d < hs; ++d) out_row[d] = acc[d] / l;
  if (lse) *lse = m + Log(l);
}

template <typename T>
void Forward(const AttentionParams& p) {
  const T* q = static_cast<const T*>(p.q);
  const T* k = static_cast<const T*>(p.k);
  const T* v = static_cast<const T*>(p.v);
  T* out = static_cast<T*>(p.out);
  T* lse = static_cast<T*>(p.lse);
  const T scale = static_cast<T>(p.scale);
  const int64_t group = p.nh / p.nkv, off = p.tk - p.tq;
  const int64_t nqb = (p.tq + kQueryBlock - 1) / kQueryBlock;
  const int64_t items = p.b * p.nh * nqb;
  DocRanges docs = MakeDocRanges(p.doc, p.doc_sb, p.b, p.tk);
  // Work items are cheap to hand out but uneven (causal rows): the pool's static split is fine
  // once there are several items per thread, and a single-query decode step has B * NH items.
  kiln::ParallelForWork(
      items, (p.tq < kQueryBlock ? p.tq : kQueryBlock) * p.tk * p.hs, 1 << 14,
      [&](int64_t lo, int64_t hi) {
        T acc_stack[256];
        T* acc = p.hs <= 256 ? acc_stack : Alloc<T>(p.hs);
        for (int64_t it = lo; it < hi; ++it) {
          const int64_t b = it / (p.nh * nqb), h = (it / nqb) % p.nh, qb = it % nqb;
          const int64_t kvh = h / group;
          const T* kh = k + b * p.k_sb + kvh * p.k_sh;
          const T* vh = v + b * p.v_sb + kvh * p.v_sh;
          const int64_t i1 = (qb + 1) * kQueryBlock < p.tq ? (qb + 1) * kQueryBlock : p.tq;
          for (int64_t i = qb * kQueryBlock; i < i1; ++i) {
            const int64_t pos = off + i;
            ForwardRow(q + b * p.q_sb + h * p.q_sh + i * p.q_st, kh, p.k_st, vh, p.v_st, p.hs,
                       scale, docs.Start(b, pos), pos, acc,
                       out + b * p.out_sb + h * p.out_sh + i * p.out_st,
                       lse ? lse + (b * p.nh + h) * p.tq + i : nullptr);
          }
        }
        if (acc != acc_stack) Free(acc);
      });
  FreeDocRanges(docs);
}

// ---- Backward ------------------------------------------------------------------------------
// With P = softmax(S), S = scale * Q K^T (masked), O = P V and Di = sum_d dO[i,d] O[i,d]:
//   dV[j] = sum_i P[i,j] dO[i],  dS[i,j] = P[i,j] (dO[i].V[j] - Di),
//   dQ[i] = scale sum_j dS[i,j] K[j],  dK[j] = scale sum_i dS[i,j] Q[i].
// P[i,j] = Exp(S[i,j] - lse[i]) is recomputed from q, k and lse; no T x T tensor is kept. dQ is
// reduced by query rows (j increasing), dK / dV by key rows ((head of the group, i) increasing),
// each by exactly one work item: no atomics, no thread-dependent partial sums.

template <typename T>
struct BwdView {
  const T *q, *k, *v, *out, *lse, *dout;
  T *dq, *dk, *dv;
  T* dd;  // (B, NH, Tq): Di
  T scale;
};

template <typename T>
BwdView<T> MakeView(const AttentionBackwardParams& p, T* dd) {
  return {static_cast<const T*>(p.q),   static_cast<const T*>(p.k),
          static_cast<const T*>(p.v),   static_cast<const T*>(p.out),
          static_cast<const T*>(p.lse), static_cast<const T*>(p.dout),
          static_cast<T*>(p.dq),        static_cast<T*>(p.dk),
          static_cast<T*>(p.dv),        dd,
          static_cast<T>(p.scale)};
}

// For one query row (q, dout, lse, Di) and n consecutive keys (rows k_st / v_st apart):
// P[j] = Exp(scale q.k_j - lse) and dS[j] = P[j] (dout.v_j - Di), with the forward's dot product.
template <typename T>
void ScoresToDs(const T* __restrict q, const T* __restrict dout, const T* __restrict k,
                int64_t k_st, const T* __restrict v, int64_t v_st, int64_t hs, T scale, T lse, T di,
                int64_t n, T* __restrict pr, T* __restrict ds) {
  for (int64_t j = 0; j < n; ++j) pr[j] = Dot(q, k + j * k_st, hs) * scale - lse;
  for (int64_t j = 0; j < n; ++j) pr[j] = ExpSelect(pr[j]);
  for (int64_t j = 0; j < n; ++j) ds[j] = pr[j] * (Dot(dout, v + j * v_st, hs) - di);
}

// dQ for one query row (b, h, i) at position pos, keys [first, pos]. acc is HS scratch.
template <typename T>
void DqRow(const AttentionBackwardParams& p, const BwdView<T>& w, int64_t b, int64_t h, int64_t i,
           int64_t first, int64_t pos, T* __restrict acc) {
  const int64_t hs = p.hs, kvh = h / (p.nh / p.nkv);
  const T* qi = w.q + b * p.q_sb + h * p.q_sh + i * p.q_st;
  const T* doi = w.dout + b * p.dout_sb + h * p.dout_sh + i * p.dout_st;
  const T* kh = w.k + b * p.k_sb + kvh * p.k_sh;
  const T* vh = w.v + b * p.v_sb + kvh * p.v_sh;
  const T lse = w.lse[(b * p.nh + h) * p.tq + i];
  const T di = w.dd[(b * p.nh + h) * p.tq + i];
  T pr[kChunk], ds[kChunk];
  for (int64_t d = 0; d < hs; ++d) acc[d] = T(0);
  for (int64_t c0 = first; c0 <= pos; c0 += kChunk) {
    const int64_t n = (pos + 1 - c0) < kChunk ? (pos + 1 - c0) : kChunk;
    ScoresToDs(qi, doi, kh + c0 * p.k_st, p.k_st, vh + c0 * p.v_st, p.v_st, hs, w.scale, lse, di, n,
               pr, ds);
    for (int64_t j = 0; j < n; ++j) {
      const T* kj = kh + (c0 + j) * p.k_st;
      for (int64_t d = 0; d < hs; ++d) acc[d] = Fma(ds[j], kj[d], acc[d]);
    }
  }
  T* dqi = w.dq + b * p.dq_sb + h * p.dq_sh + i * p.dq_st;
  for (int64_t d = 0; d < hs; ++d) dqi[d] = acc[d] * w.scale;
}

// dK, dV for keys [j0, j1) of kv head (b, kvh). dk_acc / dv_acc are kKeyBlock x HS scratch.
template <typename T>
void DkDvBlock(const AttentionBackwardParams& p, const BwdView<T>& w, const DocRanges& docs,
               int64_t b, int64_t kvh, int64_t j0, int64_t j1, T* __restrict dk_acc,
               T* __restrict dv_acc) {
  const int64_t hs = p.hs, group = p.nh / p.nkv, off = p.tk - p.tq;
  const T* kh = w.k + b * p.k_sb + kvh * p.k_sh;
  const T* vh = w.v + b * p.v_sb + kvh * p.v_sh;
  T pr[kKeyBlock], ds[kKeyBlock];
  for (int64_t x = 0; x < (j1 - j0) * hs; ++x) dk_acc[x] = dv_acc[x] = T(0);
  // Queries that can see a key of the block: positions in [j0, end of the last key's document).
  int64_t pos_lo = j0 > off ? j0 : off;
  int64_t pos_hi = docs.End(b, j1 - 1);
  for (int64_t g = 0; g < group; ++g) {
    const int64_t h = kvh * group + g;
    for (int64_t pos = pos_lo; pos < pos_hi; ++pos) {
      const int64_t i = pos - off;
      const int64_t first = docs.Start(b, pos);
      const int64_t ja = first > j0 ? first : j0;
      const int64_t jb = pos + 1 < j1 ? pos + 1 : j1;
      if (ja >= jb) continue;
      const T* qi = w.q + b * p.q_sb + h * p.q_sh + i * p.q_st;
      const T* doi = w.dout + b * p.dout_sb + h * p.dout_sh + i * p.dout_st;
      const T lse = w.lse[(b * p.nh + h) * p.tq + i];
      const T di = w.dd[(b * p.nh + h) * p.tq + i];
      ScoresToDs(qi, doi, kh + ja * p.k_st, p.k_st, vh + ja * p.v_st, p.v_st, hs, w.scale, lse, di,
                 jb - ja, pr, ds);
      for (int64_t j = ja; j < jb; ++j) {
        T* dka = dk_acc + (j - j0) * hs;
        T* dva = dv_acc + (j - j0) * hs;
        const T pj = pr[j - ja], dsj = ds[j - ja];
        for (int64_t d = 0; d < hs; ++d) dva[d] = Fma(pj, doi[d], dva[d]);
        for (int64_t d = 0; d < hs; ++d) dka[d] = Fma(dsj, qi[d], dka[d]);
      }
    }
  }
  for (int64_t j = j0; j < j1; ++j) {
    T* dkj = w.dk + b * p.dk_sb + kvh * p.dk_sh + j * p.dk_st;
    T* dvj = w.dv + b * p.dv_sb + kvh * p.dv_sh + j * p.dv_st;
    const T* dka = dk_acc + (j - j0) * hs;
    const T* dva = dv_acc + (j - j0) * hs;
    for (int64_t d = 0; d < hs; ++d) dkj[d] = dka[d] * w.scale;
    for (int64_t d = 0; d < hs; ++d) dvj[d] = dva[d];
  }
}

template <typename T>
void Backward(const AttentionBackwardParams& p) {
  T* dd = Alloc<T>(p.b * p.nh * p.tq);
  const BwdView<T> w = MakeView<T>(p, dd);
  const int64_t off = p.tk - p.tq;
  const int64_t nqb = (p.tq + kQueryBlock - 1) / kQueryBlock;
  const int64_t nkb = (p.tk + kKeyBlock - 1) / kKeyBlock;
  const int64_t rows = p.b * p.nh * p.tq;
  DocRanges docs = MakeDocRanges(p.doc, p.doc_sb, p.b, p.tk);
  kiln::ParallelForWork(rows, p.hs, 1 << 14, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t b = r / (p.nh * p.tq), h = (r / p.tq) % p.nh, i = r % p.tq;
      dd[r] = Dot(w.dout + b * p.dout_sb + h * p.dout_sh + i * p.dout_st,
                  w.out + b * p.out_sb + h * p.out_sh + i * p.out_st, p.hs);
    }
  });
  // dQ items (query blocks) and dK / dV items (key blocks) in one loop: they write disjoint
  // tensors and need every Di, which the loop above finished.
  const int64_t n_dq = p.b * p.nh * nqb, n_dkv = p.b * p.nkv * nkb;
  kiln::ParallelForWork(
      n_dq + n_dkv, (p.tq < kQueryBlock ? p.tq : kQueryBlock) * p.tk * p.hs, 1 << 14,
      [&](int64_t lo, int64_t hi) {
        T* acc = Alloc<T>(p.hs);
        T* dk_acc = Alloc<T>(kKeyBlock * p.hs);
        T* dv_acc = Alloc<T>(kKeyBlock * p.hs);
        for (int64_t it = lo; it < hi; ++it) {
          if (it < n_dq) {
            const int64_t b = it / (p.nh * nqb), h = (it / nqb) % p.nh, qb = it % nqb;
            const int64_t i1 = (qb + 1) * kQueryBlock < p.tq ? (qb + 1) * kQueryBlock : p.tq;
            for (int64_t i = qb * kQueryBlock; i < i1; ++i) {
              DqRow(p, w, b, h, i, docs.Start(b, off + i), off + i, acc);
            }
          } else {
            const int64_t jt = it - n_dq;
            const int64_t b = jt / (p.nkv * nkb), kvh = (jt / nkb) % p.nkv, kb = jt % nkb;
            const int64_t j0 = kb * kKeyBlock;
            const int64_t j1 = j0 + kKeyBlock < p.tk ? j0 + kKeyBlock : p.tk;
            DkDvBlock(p, w, docs, b, kvh, j0, j1, dk_acc, dv_acc);
          }
        }
        Free(acc);
        Free(dk_acc);
        Free(dv_acc);
      });
  FreeDocRanges(docs);
  Free(dd);
}

}  // namespace

void AttentionForward(const AttentionParams& p) {
  if (p.f64) {
    Forward<double>(p);
  } else {
    Forward<float>(p);
  }
}

void AttentionBackward(const AttentionBackwardParams& p) {
  if (p.f64) {
    Backward<double>(p);
  } else {
    Backward<float>(p);
  }
}

}  // namespace kiln::cpu::KILN_ISA_NS
