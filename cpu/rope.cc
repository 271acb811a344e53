// Rotary position embedding kernel, rotate-half layout (Hugging Face Llama): for i < HS/2 the pair
// (x_i, x_{i+HS/2}) is rotated by angle = pos * theta^(-2i/HS). Angles, cos and sin are computed
// in double with kmath (the same bits on every machine) and rounded once to the tensor's dtype;
// inverse = 1 negates the sine (rotation by -angle), which is exactly the transpose: the backward.

#include <cstdint>

#include "base/kmath.h"
#include "base/thread_pool.h"
#include "cpu/kernels.h"
#include "cpu/reduce.h"

namespace kiln::cpu::KILN_ISA_NS {
namespace {

constexpr int64_t kParallelMin = 1 << 12;  // scheduling only

template <typename T, typename P>
void RopeImpl(const KernelArgs& args) {
  const KArray& x = args.in[0];
  const KArray& pos = args.in[1];
  const int64_t nb = x.sizes[0], nt = x.sizes[1], nh = x.sizes[2], hs = x.sizes[3];
  const int64_t half = hs / 2;
  const double theta = args.fattr[0];
  const bool inverse = args.iattr[0] != 0;
  const T* xp = static_cast<const T*>(x.data);
  const P* pp = static_cast<const P*>(pos.data);
  T* yp = static_cast<T*>(args.out[0].data);
  double* freq = reduce::Alloc<double>(half);
  for (int64_t i = 0; i < half; ++i) {
    freq[i] = kmath::PowPositive(theta, -(2.0 * static_cast<double>(i)) / static_cast<double>(hs));
  }
  const int64_t nbt = nb * nt;
  kiln::ParallelForWork(nbt, nh * hs, kParallelMin, [&](int64_t bt_lo, int64_t bt_hi) {
    T* cs = reduce::Alloc<T>(2 * half);  // cos[0, half), sin[half, 2 half)
    for (int64_t bt = bt_lo; bt < bt_hi; ++bt) {
      const int64_t b = bt / nt, t = bt % nt;
      const double p = static_cast<double>(pp[b * pos.strides[0] + t * pos.strides[1]]);
      for (int64_t i = 0; i < half; ++i) {
        const double angle = p * freq[i];
        const T s = static_cast<T>(kmath::Sin(angle));
        cs[i] = static_cast<T>(kmath::Cos(angle));
        cs[half + i] = inverse ? -s : s;
      }
      for (int64_t h = 0; h < nh; ++h) {
        const T* xr = xp + b * x.strides[0] + t * x.strides[1] + h * x.strides[2];
        T* yr = yp + ((b * nt + t) * nh + h) * hs;
        for (int64_t i = 0; i < half; ++i) {
          const T x1 = xr[i], x2 = xr[i + half], c = cs[i], s = cs[half + i];
          yr[i] = x1 * c - x2 * s;
          yr[i + half] = x2 * c + x1 * s;
        }
      }
    }
    reduce::Free(cs);
  });
  reduce::Free(freq);
}

template <typename T>
void Dispatch(const KernelArgs& args) {
  if (args.in[1].dtype == DType::kI64) {
    RopeImpl<T, int64_t>(args);
  } else {
    RopeImpl<T, int32_t>(args);
  }
}

}  // namespace

// Slots: in[0] x (B, T, NH, HS), any strides with unit stride on HS; in[1] positions (B, T) i32 or
// i64, any strides; out[0] y (B, T, NH, HS) contiguous; fattr[0] theta; iattr[0] inverse (0 / 1).
void Rope(const KernelArgs& args) {
  if (args.in[0].dtype == DType::kF64) {
    Dispatch<double>(args);
  } else {
    Dispatch<float>(args);
  }
}

}  // namespace kiln::cpu::KILN_ISA_NS
