// LayerNorm forward and fused backward kernels over the rows of a (rows, C) matrix (llm.c's
// layernorm_forward / layernorm_backward). Row statistics are two-pass (mean, then the biased
// variance of x - mean) in the fixed order of cpu/reduce.h; the weight / bias gradients are summed
// over rows in fixed chunks of kRowChunk rows combined pairwise, so no float depends on the
// thread count or the ISA path.
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
  const T* b = static_cast<const T*>(args.in[2].data);  // may be null
  T* yp = static_cast<T*>(args.out[0].data);
  T* mean_out = static_cast<T*>(args.out[1].data);
  T* rstd_out = static_cast<T*>(args.out[2].data);
  const T eps = static_cast<T>(args.fattr[0]);
  kiln::ParallelForWork(rows, c, kParallelMin, [&](int64_t r_lo, int64_t r_hi) {
    for (int64_t r = r_lo; r < r_hi; ++r) {
      norm::LayerNormRow(xp + r * c, w, b, yp + r * c, c, eps, mean_out + r, rstd_out + r);
    }
  });
}

template <typename T>
void Backward(const KernelArgs& args) {
  const int64_t rows = args.in[0].sizes[0], c = args.in[0].sizes[1];
  const T* xp = static_cast<const T*>(args.in[0].data);
  const T* w = static_cast<const T*>(args.in[1].data);
  const T* mean_in = static_cast<const T*>(args.in[2].data);
  const T* rstd_in = static_cast<const T*>(args.in[3].data);
  const T* gyp = static_cast<const T*>(args.in[4].data);
  T* gxp = static_cast<T*>(args.out[0].data);  // may be null
  T* gw = static_cast<T*>(args.out[1].data);   // may be null
  T* gb = static_cast<T*>(args.out[2].data);   // may be null
  const T ct = static_cast<T>(c);
  const int64_t nchunks = (rows + reduce::kRowChunk - 1) / reduce::kRowChunk;
  T* pw = gw != nullptr ? reduce::Alloc<T>(nchunks * c) : nullptr;
  T* pb = gb != nullptr ? reduce::Alloc<T>(nchunks * c) : nullptr;
  kiln::ParallelForWork(nchunks, reduce::kRowChunk * c, kParallelMin, [&](int64_t k_lo, int64_t k_hi) {
    for (int64_t k = k_lo; k < k_hi; ++k) {
      const int64_t r0 = k * reduce::kRowChunk;
      const int64_t r1 = r0 + reduce::kRowChunk < rows ? r0 + reduce::kRowChunk : rows;
      T* kw = pw != nullptr ? pw + k * c : nullptr;
      T* kb = pb != nullptr ? pb + k * c : nullptr;
      for (int64_t j = 0; j < c; ++j) {
        if (kw != nullptr) kw[j] = T(0);
        if (kb != nullptr) kb[j] = T(0);
      }
      for (int64_t r = r0; r < r1; ++r) {
        const T* x = xp + r * c;
        const T* gy = gyp + r * c;
        const T mean = mean_in[r], rstd = rstd_in[r];
        if (gxp != nullptr) {
          // gx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = gy * w.
          const T m1 = reduce::RowSum<T>(c, [gy, w](int64_t j) { return gy[j] * w[j]; }) / ct;
          const T m2 = reduce::RowSum<T>(
                           c, [=](int64_t j) { return (gy[j] * w[j]) * ((x[j] - mean) * rstd); }) /
                       ct;
          T* gx = gxp + r * c;
          for (int64_t j = 0; j < c; ++j) {
            const T xhat = (x[j] - mean) * rstd;
            gx[j] = ((gy[j] * w[j] - m1) - xhat * m2) * rstd;
          }
        }
        if (kw != nullptr) {
          for (int64_t j = 0; j < c; ++j) kw[j] = kw[j] + gy[j] * ((x[j] - mean) * rstd);
        }
        if (kb != nullptr) {
          for (int64_t j = 0; j < c; ++j) kb[j] = kb[j] + gy[j];
        }
      }
    }
  });
  if (nchunks > 0) {
    kiln::ParallelForWork(c, nchunks, kParallelMin, [&](int64_t j_lo, int64_t j_hi) {
      for (int64_t j = j_lo; j < j_hi; ++j) {
        if (pw != nullptr) gw[j] = reduce::StridedTreeCombine(pw + j, c, 0, nchunks);
        if (pb != nullptr) gb[j] = reduce::StridedTreeCombine(pb + j, c, 0, nchunks);
      }
    });
  } else {
    for (int64_t j = 0; j < c; ++j) {
      if (gw != nullptr) gw[j] = T(0);
      if (gb != nullptr) gb[j] = T(0);
    }
  }
  if (pw != nullptr) reduce::Free(pw);
  if (pb != nullptr) reduce::Free(pb);
}

}  // namespace

// Slots: in[0] x (rows, C), in[1] weight (C), in[2] bias (C) or null data, all contiguous;
// out[0] y (rows, C), out[1] mean (rows), out[2] rstd (rows); fattr[0] eps.
void LayerNorm(const KernelArgs& args) {
  if (args.in[0].dtype == DType::kF64) {
    Forward<double>(args);
  } else {
    Forward<float>(args);
  }
}

// Slots: in[0] x (rows, C), in[1] weight (C), in[2] mean (rows), in[3] rstd (rows), in[4] grad_y
// (rows, C), all contiguous; out[0] grad_x (rows, C), out[1] grad_weight (C), out[2] grad_bias (C),
// each with null data when not wanted.
void LayerNormBackward(const KernelArgs& args) {
  if (args.in[0].dtype == DType::kF64) {
    Backward<double>(args);
  } else {
    Backward<float>(args);
  }
}

}  // namespace kiln::cpu::KILN_ISA_NS
