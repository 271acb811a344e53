// AdamW step kernel, in place, elementwise (so trivially the same bits for any thread count). The
// arithmetic follows torch.optim.AdamW's single-tensor path op by op, with its scalars rounded to
// the tensor's dtype as PyTorch does:
//   p *= (1 - lr wd);  m = lerp(m, g, 1 - b1);  v = v b2 + ((1 - b2) g) g;
//   p += ((-lr / bc1) m) / (sqrt(v) / sqrt(bc2) + eps)
// The bias corrections bc1 = 1 - b1^step, bc2 = 1 - b2^step are computed once per call in double
// by the op layer (kmath, not std::pow).

#include <cmath>
#include <cstdint>

#include "base/thread_pool.h"
#include "cpu/kernels.h"

namespace kiln::cpu::KILN_ISA_NS {
namespace {

constexpr int64_t kParallelMin = 1 << 14;  // scheduling only

template <typename T>
void Step(const KernelArgs& args) {
  const int64_t n = args.out[0].ndim == 0 ? 1 : args.out[0].sizes[0];
  T* p = static_cast<T*>(args.out[0].data);
  T* m = static_cast<T*>(args.out[1].data);
  T* v = static_cast<T*>(args.out[2].data);
  const T* g = static_cast<const T*>(args.in[0].data);
  const double lr = args.fattr[0], b1 = args.fattr[1], b2 = args.fattr[2];
  const double wd = args.fattr[4];
  const T decay = static_cast<T>(1.0 - lr * wd);
  const bool do_decay = wd != 0.0;
  const T w = static_cast<T>(1.0 - b1);
  const T one_minus_w = T(1) - w;
  const bool lerp_low = (1.0 - b1) < 0.5;
  const T beta2 = static_cast<T>(b2);
  const T c2 = static_cast<T>(1.0 - b2);
  const T eps = static_cast<T>(args.fattr[3]);
  const T neg_step_size = static_cast<T>(-args.fattr[5]);
  const T bc2_sqrt = static_cast<T>(args.fattr[6]);
  kiln::ParallelForWork(n, 1, kParallelMin, [&](int64_t i_lo, int64_t i_hi) {
    for (int64_t i = i_lo; i < i_hi; ++i) {
      T pi = p[i];
      if (do_decay) pi = pi * decay;
      const T gi = g[i];
      // PyTorch's lerp: self + w (end - self) for |w| < 0.5, else end - (end - self)(1 - w).
      const T mi = lerp_low ? m[i] + w * (gi - m[i]) : gi - (gi - m[i]) * one_minus_w;
      const T vi = v[i] * beta2 + (c2 * gi) * gi;
      const T denom = std::sqrt(vi) / bc2_sqrt + eps;
      p[i] = pi + (neg_step_size * mi) / denom;
      m[i] = mi;
      v[i] = vi;
    }
  });
}

}  // namespace

// Slots: out[0] param, out[1] m, out[2] v (updated in place), in[0] grad: all contiguous 1-D (n)
// of one dtype; fattr: [0] lr, [1] beta1, [2] beta2, [3] eps, [4] weight_decay,
// [5] lr / (1 - beta1^step), [6] sqrt(1 - beta2^step).
void AdamW(const KernelArgs& args) {
  if (args.out[0].dtype == DType::kF64) {
    Step<double>(args);
  } else {
    Step<float>(args);
  }
}

}  // namespace kiln::cpu::KILN_ISA_NS
