// Cross-entropy forward and backward kernels over the rows of (N, V) logits, with ignore_index
// and label smoothing ls:
//   lse_i = m + log(sum_j exp(x_ij - m)),  loss_i = lse_i - (1 - ls) x_{i,t_i} - ls/V sum_j x_ij
//   grad_ij = g_i (exp(x_ij - lse_i) - ls/V - (1 - ls) [j == t_i])
// Sums run in the fixed order of cpu/reduce.h with kmath's exp / log; ignored rows give loss 0 and
// gradient 0. Targets were range-checked by the op layer (no out-of-bounds read here).

#include <cstdint>

#include "base/kmath.h"
#include "base/thread_pool.h"
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
void Forward(const KernelArgs& args) {
  const KArray& lg = args.in[0];
  const int64_t n = lg.sizes[0], v = lg.sizes[1], rs = lg.strides[0];
  const T* xp = static_cast<const T*>(lg.data);
  T* loss = static_cast<T*>(args.out[0].data);
  T* lse_out = static_cast<T*>(args.out[1].data);
  const int64_t ignore = args.iattr[0];
  const double ls = args.fattr[0];
  const T keep = static_cast<T>(1.0 - ls);
  const T spread = static_cast<T>(ls / static_cast<double>(v));
  kiln::ParallelForWork(n, v, kParallelMin, [&](int64_t i_lo, int64_t i_hi) {
    for (int64_t i = i_lo; i < i_hi; ++i) {
      const T* x = xp + i * rs;
      const T m = reduce::RowMax(x, v);
      T lse = m;
      if (m - m == T(0)) {
        lse = m +
              kmath::Log(reduce::RowSum<T>(v, [x, m](int64_t j) { return kmath::Exp(x[j] - m); }));
      }
      lse_out[i] = lse;
      const int64_t t = Target(args.in[1], i);
      if (t == ignore) {
        loss[i] = T(0);
        continue;
      }
      T l = lse - keep * x[t];
      if (ls != 0.0) l = l - spread * reduce::RowSum<T>(v, [x](int64_t j) { return x[j]; });
      loss[i] = l;
    }
  });
}

template <typename T>
void Backward(const KernelArgs& args) {
  const KArray& lg = args.in[0];
  const int64_t n = lg.sizes[0], v = lg.sizes[1], rs = lg.strides[0];
  const T* xp = static_cast<const T*>(lg.data);
  const T* lse = static_cast<const T*>(args.in[2].data);
  const T* g = static_cast<const T*>(args.in[3].data);
  T* gxp = static_cast<T*>(args.out[0].data);
  const int64_t ignore = args.iattr[0];
  const double ls = args.fattr[0];
  const T keep = static_cast<T>(1.0 - ls);
  const T spread = static_cast<T>(ls / static_cast<double>(v));
  kiln::ParallelForWork(n, v, kParallelMin, [&](int64_t i_lo, int64_t i_hi) {
    for (int64_t i = i_lo; i < i_hi; ++i) {
      const T* x = xp + i * rs;
      T* gx = gxp + i * v;
      const int64_t t = Target(args.in[1], i);
      if (t == ignore) {
        for (int64_t j = 0; j < v; ++j) gx[j] = T(0);
        continue;
      }
      const T gi = g[i], l = lse[i];
      for (int64_t j = 0; j < v; ++j) {
        T d = kmath::Exp(x[j] - l);
        if (ls != 0.0) d = d - spread;
        if (j == t) d = d - keep;
        gx[j] = gi * d;
      }
    }
  });
}

}  // namespace

// Slots: in[0] logits (N, V) with unit inner stride; in[1] targets (N) i32 / i64 (any stride);
// out[0] loss (N), out[1] lse (N), contiguous; iattr[0] ignore_index; fattr[0] label_smoothing.
void CrossEntropy(const KernelArgs& args) {
  if (args.in[0].dtype == DType::kF64) {
    Forward<double>(args);
  } else {
    Forward<float>(args);
  }
}

// Slots: in[0] logits (N, V) unit inner stride; in[1] targets (N); in[2] lse (N), in[3] grad_loss
// (N), contiguous; out[0] grad_logits (N, V) contiguous; iattr[0] ignore_index; fattr[0] ls.
void CrossEntropyBackward(const KernelArgs& args) {
  if (args.in[0].dtype == DType::kF64) {
    Backward<double>(args);
  } else {
    Backward<float>(args);
  }
}

}  // namespace kiln::cpu::KILN_ISA_NS
