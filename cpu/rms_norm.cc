// RmsNorm forward and fused backward kernels over the rows of a (rows, C) matrix (Llama's RMSNorm:
// y = x * rsqrt(mean(x^2) + eps) * w). The mean of squares uses the fixed row order of
// cpu/reduce.h and the weight gradient the fixed row chunks, as LayerNorm does.
#include <cmath>
#include <cstdint>

#include "base/thread_pool.h"
#include "cpu/kernels.h"
#include "cpu/norm_rows.h"
#include "cpu/reduce.h"

namespace kiln::cpu::KILN_ISA_NS {
namespace {

constexpr int64_t kParallelMin = 1 << 12;  // scheduling only

template <typename T>
void Forward(const KernelArgs& args) {
  const int64_t rows = args.in[0].sizes[0], c = args.in[0].sizes[1];
  const T* xp = static_cast<const T*>(args.in[0].data);
  const T* w = static_cast<const T*>(args.in[1].data);
  T* yp = static_cast<T*>(args.out[0].data);
  T* rstd_out = static_cast<T*>(args.out[1].data);
  const T eps = static_cast<T>(args.fattr[0]);
  kiln::ParallelForWork(rows, c, kParallelMin, [&](int64_t r_lo, int64_t r_hi) {
    for (int64_t r = r_lo; r < r_hi; ++r) {
      norm::RmsNormRow(xp + r * c, w, yp + r * c, c, eps, rstd_out + r);
    }
  });
}

template <typename T>
void Backward(const KernelArgs& args) {
  const int64_t rows = args.in[0].sizes[0], c = args.in[0].sizes[1];
  const T* xp = static_cast<const T*>(args.in[0].data);
  const T* w = static_cast<const T*>(args.in[1].data);
  const T* rstd_in = static_cast<const T*>(args.in[2].data);
  const T* gyp = static_cast<const T*>(args.in[3].data);
  T* gxp = static_cast<T*>(args.out[0].data);  // may be null
  T* gw = static_cast<T*>(args.out[1].data);   // may be null
  const T ct = static_cast<T>(c);
  const int64_t nchunks = (rows + reduce::kRowChunk - 1) / reduce::kRowChunk;
  T* pw = gw != nullptr ? reduce::Alloc<T>(nchunks * c) : nullptr;
  kiln::ParallelForWork(nchunks, reduce::kRowChunk * c, kParallelMin, [&](int64_t k_lo, int64_t k_hi) {
    for (int64_t k = k_lo; k < k_hi; ++k) {
      const int64_t r0 = k * reduce::kRowChunk;
      const int64_t r1 = r0 + reduce::kRowChunk < rows ? r0 + reduce::kRowChunk : rows;
      T* kw = pw != nullptr ? pw + k * c : nullptr;
      if (kw != nullptr) {
        for (int64_t j = 0; j < c; ++j) kw[j] = T(0);
      }
      for (int64_t r = r0; r < r1; ++r) {
        const T* x = xp + r * c;
        const T* gy = gyp + r * c;
        const T rstd = rstd_in[r];
        if (gxp != nullptr) {
          // gx = rstd * (dxhat - xhat * mean(dxhat * xhat)), xhat = x * rstd, dxhat = gy * w.
          const T m2 =
              reduce::RowSum<T>(c, [=](int64_t j) { return (gy[j] * w[j]) * (x[j] * rstd); }) / ct;
          T* gx = gxp + r * c;
          for (int64_t j = 0; j < c; ++j) gx[j] = (gy[j] * w[j] - (x[j] * rstd) * m2) * rstd;
        }
        if (kw != nullptr) {
          for (int64_t j = 0; j < c; ++j) kw[j] = kw[j] + gy[j] * (x[j] * rstd);
        }
      }
    }
  });
  if (gw != nullptr) {
    if (nchunks > 0) {
      kiln::ParallelForWork(c, nchunks, kParallelMin, [&](int64_t j_lo, int64_t j_hi) {
        for (int64_t j = j_lo; j < j_hi; ++j) gw[j] = reduce::StridedTreeCombine(pw + j, c, 0, nchunks);
      });
    } else {
      for (int64_t j = 0; j < c; ++j) gw[j] = T(0);
    }
    reduce::Free(pw);
  }
}

}  // namespace

// Slots: in[0] x (rows, C), in[1] weight (C), contiguous; out[0] y (rows, C), out[1] rstd (rows);
// fattr[0] eps.
void RmsNorm(const KernelArgs& args) {
  if (args.in[0].dtype == DType::kF64) {
    Forward<double>(args);
  } else {
    Forward<float>(args);
  }
}

// Slots: in[0] x (rows, C), in[1] weight (C), in[2] rstd (rows), in[3] grad_y (rows, C), all
// contiguous; out[0] grad_x (rows, C), out[1] grad_weight (C), each with null data when not wanted.
void RmsNormBackward(const KernelArgs& args) {
  if (args.in[0].dtype == DType::kF64) {
    Backward<double>(args);
  } else {
    Backward<float>(args);
  }
}

}  // namespace kiln::cpu::KILN_ISA_NS
