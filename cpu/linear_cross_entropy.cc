// The LM head fused with cross-entropy (rows LinearCrossEntropy / LinearCrossEntropyBackward):
// logits = h W^T are computed one (row block x vocab chunk) tile at a time into a workspace and
// never exist as a whole (N, V) tensor, nor does their gradient.
//
// Forward, per row: each vocab chunk gives its max m_c and s_c = sum_j exp(x_j - m_c) (fixed order
// of cpu/reduce.h), combined in chunk order into an online log-sum-exp. With a single chunk
// (V <= the chunk size) this is exactly CrossEntropy's formula, so the bits equal the unfused path.
// The chunk size depends on V only, so a row's loss never depends on the batch.
// Backward, per tile: the logits are recomputed, turned into d = g (softmax - ls/V - (1-ls) onehot)
// in place, then grad_h[rows] += d W_c and grad_W[chunk] += d^T h[rows]. Each GEMM accumulates
// into its output, continuing one FMA chain over k in increasing order, so both gradients have the
// bits of the unfused (N, V) GEMMs whatever the row block size or thread count.
#include <cstdint>

#include "base/kmath.h"
#include "base/thread_pool.h"
#include "cpu/bf16_operands.h"
#include "cpu/gemm.h"
#include "cpu/kernels.h"
#include "cpu/reduce.h"

namespace kiln::cpu::KILN_ISA_NS {
namespace {

constexpr int64_t kParallelMin = 1 << 12;  // scheduling only

inline int64_t Target(const KArray& t, int64_t i) {
  if (t.dtype == DType::kI64) return static_cast<const int64_t*>(t.data)[i * t.strides[0]];
  return static_cast<const int32_t*>(t.data)[i * t.strides[0]];
}

template <typename T>
inline bool IsNegInf(T x) {
  return x == x && !(x - x == T(0)) && x < T(0);
}

// c (m x n) (+)= op(a) op(b), one FMA chain per element (cpu/gemm.h).
inline void Gemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, bool ta,
                 const float* b, int64_t ldb, bool tb, float* c, int64_t ldc, bool acc) {
  cpu::KILN_ISA_NS::Sgemm(SgemmParams{m, n, k, a, lda, ta, b, ldb, tb, c, ldc, acc});
}
inline void Gemm(int64_t m, int64_t n, int64_t k, const double* a, int64_t lda, bool ta,
                 const double* b, int64_t ldb, bool tb, double* c, int64_t ldc, bool acc) {
  cpu::KILN_ISA_NS::Dgemm(DgemmParams{m, n, k, a, lda, ta, b, ldb, tb, c, ldc, acc});
}

template <typename T>
void Forward(const KernelArgs& args) {
  const int64_t n = args.in[0].sizes[0], c = args.in[0].sizes[1], v = args.in[1].sizes[0];
  const T* h = static_cast<const T*>(args.in[0].data);
  const T* w = static_cast<const T*>(args.in[1].data);
  T* loss = static_cast<T*>(args.out[0].data);
  T* lse_out = static_cast<T*>(args.out[1].data);
  T* work = static_cast<T*>(args.out[2].data);
  const int64_t ignore = args.iattr[0], rb_max = args.iattr[1], vc_max = args.iattr[2];
  const double ls = args.fattr[0];
  const T keep = static_cast<T>(1.0 - ls);
  const T spread = static_cast<T>(ls / static_cast<double>(v));
  // Per-row running state (the row block's slice): max, sum of exp, target logit, sum of logits.
  T* st_m = work + rb_max * vc_max;
  T* st_s = st_m + rb_max;
  T* st_xt = st_s + rb_max;
  T* st_sx = st_xt + rb_max;
  for (int64_t r0 = 0; r0 < n; r0 += rb_max) {
    const int64_t rb = n - r0 < rb_max ? n - r0 : rb_max;
    for (int64_t c0 = 0; c0 < v; c0 += vc_max) {
      const int64_t vc = v - c0 < vc_max ? v - c0 : vc_max;
      Gemm(rb, vc, c, h + r0 * c, c, false, w + c0 * c, c, true, work, vc, false);
      kiln::ParallelForWork(rb, vc, kParallelMin, [&](int64_t i_lo, int64_t i_hi) {
        for (int64_t i = i_lo; i < i_hi; ++i) {
          const T* x = work + i * vc;
          const T mc = reduce::RowMax(x, vc);
          T sc = T(0);
          if (mc - mc == T(0)) {
            sc = reduce::RowSum<T>(vc, [x, mc](int64_t j) { return kmath::Exp(x[j] - mc); });
          }
          const int64_t t = Target(args.in[2], r0 + i);
          const T sx = ls != 0.0 ? reduce::RowSum<T>(vc, [x](int64_t j) { return x[j]; }) : T(0);
          if (c0 == 0) {
            st_m[i] = mc;
            st_s[i] = sc;
            st_xt[i] = T(0);
            st_sx[i] = sx;
          } else {
            const T m = st_m[i];
            if (mc - mc == T(0) && m - m == T(0)) {
              if (mc > m) {
                st_s[i] = st_s[i] * kmath::Exp(m - mc) + sc;
                st_m[i] = mc;
              } else {
                st_s[i] = st_s[i] + sc * kmath::Exp(mc - m);
              }
            } else if (IsNegInf(m)) {
              st_m[i] = mc;  // every earlier logit was -inf: this chunk's state replaces it
              st_s[i] = sc;
            } else if (!IsNegInf(mc)) {
              // +inf or nan on either side: lse becomes it (nan first), as in CrossEntropy.
              if (mc != mc || (m == m && mc > m)) st_m[i] = mc;
            }
            st_sx[i] = st_sx[i] + sx;
          }
          if (t >= c0 && t < c0 + vc) st_xt[i] = x[t - c0];
        }
      });
    }
    for (int64_t i = 0; i < rb; ++i) {
      const T m = st_m[i];
      const T lse = m - m == T(0) ? m + kmath::Log(st_s[i]) : m;
      lse_out[r0 + i] = lse;
      const int64_t t = Target(args.in[2], r0 + i);
      if (t == ignore) {
        loss[r0 + i] = T(0);
        continue;
      }
      T l = lse - keep * st_xt[i];
      if (ls != 0.0) l = l - spread * st_sx[i];
      loss[r0 + i] = l;
    }
  }
}

template <typename T>
void Backward(const KernelArgs& args) {
  const int64_t n = args.in[0].sizes[0], c = args.in[0].sizes[1], v = args.in[1].sizes[0];
  const T* h = static_cast<const T*>(args.in[0].data);
  const T* w = static_cast<const T*>(args.in[1].data);
  const T* lse = static_cast<const T*>(args.in[3].data);
  const T* g = static_cast<const T*>(args.in[4].data);
  T* gh = static_cast<T*>(args.out[0].data);
  T* gw = static_cast<T*>(args.out[1].data);
  T* work = static_cast<T*>(args.out[2].data);
  const int64_t ignore = args.iattr[0], rb_max = args.iattr[1], vc_max = args.iattr[2];
  const double ls = args.fattr[0];
  const T keep = static_cast<T>(1.0 - ls);
  const T spread = static_cast<T>(ls / static_cast<double>(v));
  for (int64_t r0 = 0; r0 < n; r0 += rb_max) {
    const int64_t rb = n - r0 < rb_max ? n - r0 : rb_max;
    for (int64_t c0 = 0; c0 < v; c0 += vc_max) {
      const int64_t vc = v - c0 < vc_max ? v - c0 : vc_max;
      Gemm(rb, vc, c, h + r0 * c, c, false, w + c0 * c, c, true, work, vc, false);
      kiln::ParallelForWork(rb, vc, kParallelMin, [&](int64_t i_lo, int64_t i_hi) {
        for (int64_t i = i_lo; i < i_hi; ++i) {
          T* x = work + i * vc;
          const int64_t t = Target(args.in[2], r0 + i);
          if (t == ignore) {
            for (int64_t j = 0; j < vc; ++j) x[j] = T(0);
            continue;
          }
          const T gi = g[r0 + i], l = lse[r0 + i];
          for (int64_t j = 0; j < vc; ++j) {
            T d = kmath::Exp(x[j] - l);
            if (ls != 0.0) d = d - spread;
            if (c0 + j == t) d = d - keep;
            x[j] = gi * d;
          }
        }
      });
      Gemm(rb, c, vc, work, vc, false, w + c0 * c, c, false, gh + r0 * c, c, c0 > 0);
      Gemm(vc, c, rb, work, vc, true, h + r0 * c, c, false, gw + c0 * c, c, r0 > 0);
    }
  }
}

}  // namespace

// Slots: in[0] h (N, C), in[1] W (V, C), contiguous; in[2] targets (N) i32 / i64 (any stride);
// out[0] loss (N), out[1] lse (N), out[2] workspace (rb * vc + 4 * rb); iattr[0] ignore_index,
// iattr[1] rb (row block), iattr[2] vc (vocab chunk); fattr[0] label_smoothing.
void LinearCrossEntropy(const KernelArgs& args) {
  if (args.in[0].dtype == DType::kF64) {
    Forward<double>(args);
  } else {
    const Bf16Operands f32(args);  // bf16 h / W widened (cpu/bf16_operands.h)
    Forward<float>(f32.args());
  }
}

// Slots: in[0] h (N, C), in[1] W (V, C), in[2] targets (N), in[3] lse (N), in[4] grad_loss (N),
// contiguous; out[0] grad_h (N, C), out[1] grad_W (V, C), out[2] workspace (rb * vc); iattr and
// fattr as the forward.
void LinearCrossEntropyBackward(const KernelArgs& args) {
  if (args.in[0].dtype == DType::kF64) {
    Backward<double>(args);
  } else {
    const Bf16Operands f32(args);
    Backward<float>(f32.args());
  }
}

}  // namespace kiln::cpu::KILN_ISA_NS
