// CPU kernels of Embedding (a row gather) and EmbeddingBackward (a scatter-add into the table).
// The backward never uses atomics: work is split over channel blocks, and within a block one
// thread adds the tokens in increasing order, so every grad_weight element is the same sum in
// the same order whatever the thread count or ISA path.
#include <cstdint>

#include "base/thread_pool.h"
#include "cpu/kernels.h"
#include "tensor/dtype.h"

namespace kiln::cpu::KILN_ISA_NS {
namespace {

// Channels per backward work item (scheduling only: any value gives the same bits).
constexpr int64_t kChannelBlock = 64;

template <typename I>
inline int64_t IdAt(const void* ids, int64_t t) {
  return static_cast<int64_t>(static_cast<const I*>(ids)[t]);
}

template <typename T, typename I>
void EmbeddingAs(const KernelArgs& args) {
  const KArray& w = args.in[0];
  const void* ids = args.in[1].data;
  const int64_t n = args.in[1].sizes[0], c = w.sizes[1];
  const int64_t ws0 = w.strides[0], ws1 = w.strides[1];
  const T* wp = static_cast<const T*>(w.data);
  T* out = static_cast<T*>(args.out[0].data);
  kiln::ParallelForWork(n, c, 2048, [&](int64_t t_lo, int64_t t_hi) {
    for (int64_t t = t_lo; t < t_hi; ++t) {
      const T* row = wp + IdAt<I>(ids, t) * ws0;
      T* o = out + t * c;
      if (ws1 == 1) {
        for (int64_t j = 0; j < c; ++j) o[j] = row[j];
      } else {
        for (int64_t j = 0; j < c; ++j) o[j] = row[j * ws1];
      }
    }
  });
}

template <typename T, typename I>
void EmbeddingBackwardAs(const KernelArgs& args) {
  const void* ids = args.in[0].data;
  const KArray& g = args.in[1];
  const int64_t n = g.sizes[0], c = g.sizes[1], v = args.out[0].sizes[0];
  const int64_t gs0 = g.strides[0], gs1 = g.strides[1];
  const T* gp = static_cast<const T*>(g.data);
  T* gw = static_cast<T*>(args.out[0].data);
  kiln::ParallelForWork(v * c, 1, 2048, [&](int64_t i_lo, int64_t i_hi) {
    for (int64_t i = i_lo; i < i_hi; ++i) gw[i] = T(0);
  });
  const int64_t blocks = (c + kChannelBlock - 1) / kChannelBlock;
  kiln::ParallelForWork(blocks, n * kChannelBlock, 2048, [&](int64_t b_lo, int64_t b_hi) {
    for (int64_t b = b_lo; b < b_hi; ++b) {
      const int64_t c0 = b * kChannelBlock;
      const int64_t c1 = c0 + kChannelBlock < c ? c0 + kChannelBlock : c;
      for (int64_t t = 0; t < n; ++t) {
        T* row = gw + IdAt<I>(ids, t) * c;
        const T* src = gp + t * gs0;
        if (gs1 == 1) {
          for (int64_t j = c0; j < c1; ++j) row[j] += src[j];
        } else {
          for (int64_t j = c0; j < c1; ++j) row[j] += src[j * gs1];
        }
      }
    }
  });
}

template <typename T>
void EmbeddingFor(const KernelArgs& args, DType ids) {
  if (ids == DType::kI64) {
    EmbeddingAs<T, int64_t>(args);
  } else {
    EmbeddingAs<T, int32_t>(args);
  }
}

template <typename T>
void EmbeddingBackwardFor(const KernelArgs& args, DType ids) {
  if (ids == DType::kI64) {
    EmbeddingBackwardAs<T, int64_t>(args);
  } else {
    EmbeddingBackwardAs<T, int32_t>(args);
  }
}

}  // namespace

// in[0] = weight (V, C) any strides, in[1] = ids (N) contiguous i32 / i64 (checked in [0, V)),
// out[0] = (N, C) contiguous.
void Embedding(const KernelArgs& args) {
  if (args.in[0].dtype == DType::kF64) {
    EmbeddingFor<double>(args, args.in[1].dtype);
  } else {
    EmbeddingFor<float>(args, args.in[1].dtype);
  }
}

// in[0] = ids (N) contiguous i32 / i64 (checked), in[1] = grad (N, C) any strides,
// out[0] = grad_weight (V, C) contiguous (zeroed here).
void EmbeddingBackward(const KernelArgs& args) {
  if (args.in[1].dtype == DType::kF64) {
    EmbeddingBackwardFor<double>(args, args.in[0].dtype);
  } else {
    EmbeddingBackwardFor<float>(args, args.in[0].dtype);
  }
}

}  // namespace kiln::cpu::KILN_ISA_NS
