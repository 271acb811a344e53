// SwiGLU (Llama's MLP activation; rows Swiglu / SwigluBackward): y = silu(gate) * up in one pass,
// and its backward grad_gate = g up silu'(gate), grad_up = g silu(gate) in one pass. The formulas
// are those of the unfused Silu, Mul and their backward kernels (cpu/unary.cc,
// cpu/unary_backward.cc), so the bits are the unfused chain's.
#include <cstdint>

#include "base/kmath.h"
#include "base/thread_pool.h"
#include "cpu/kernels.h"

namespace kiln::cpu::KILN_ISA_NS {
namespace {

constexpr int64_t kParallelMin = 1 << 14;  // scheduling only

inline int64_t Numel(const KArray& a) {
  int64_t n = 1;
  for (int d = 0; d < a.ndim; ++d) n *= a.sizes[d];
  return n;
}

template <typename T>
void Forward(const KernelArgs& args) {
  const int64_t n = Numel(args.in[0]);
  const T* gate = static_cast<const T*>(args.in[0].data);
  const T* up = static_cast<const T*>(args.in[1].data);
  T* y = static_cast<T*>(args.out[0].data);
  kiln::ParallelForWork(n, 1, kParallelMin, [&](int64_t i_lo, int64_t i_hi) {
    for (int64_t i = i_lo; i < i_hi; ++i) {
      const T x = gate[i];
      y[i] = (x * kmath::Sigmoid(x)) * up[i];
    }
  });
}

template <typename T>
void Backward(const KernelArgs& args) {
  const int64_t n = Numel(args.in[0]);
  const T* gate = static_cast<const T*>(args.in[0].data);
  const T* up = static_cast<const T*>(args.in[1].data);
  const T* g = static_cast<const T*>(args.in[2].data);
  T* g_gate = static_cast<T*>(args.out[0].data);
  T* g_up = static_cast<T*>(args.out[1].data);
  kiln::ParallelForWork(n, 1, kParallelMin, [&](int64_t i_lo, int64_t i_hi) {
    for (int64_t i = i_lo; i < i_hi; ++i) {
      const T x = gate[i];
      const T s = kmath::Sigmoid(x);
      const T ga = g[i] * up[i];  // gradient of silu(gate), as Mul's backward gives it
      g_gate[i] = ga * (s * (T(1) + x * (T(1) - s)));
      g_up[i] = g[i] * (x * s);
    }
  });
}

}  // namespace

// Slots: in[0] gate, in[1] up, same shape, contiguous; out[0] y, contiguous.
void Swiglu(const KernelArgs& args) {
  if (args.in[0].dtype == DType::kF64) {
    Forward<double>(args);
  } else {
    Forward<float>(args);
  }
}

// Slots: in[0] gate, in[1] up, in[2] grad_y, same shape, contiguous; out[0] grad_gate, out[1]
// grad_up, contiguous.
void SwigluBackward(const KernelArgs& args) {
  if (args.in[0].dtype == DType::kF64) {
    Backward<double>(args);
  } else {
    Backward<float>(args);
  }
}

}  // namespace kiln::cpu::KILN_ISA_NS
