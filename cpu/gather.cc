// CPU kernels of Gather (torch.gather) and its backward, a scatter-add made deterministic without
// atomics: the output is cut into independent "lines" (every position except along `dim`), and
// one thread sums a whole line in increasing index order, so each element of grad_x is summed in
// the same order whatever the thread count or ISA path.
#include <cstdint>

#include "base/thread_pool.h"
#include "cpu/elementwise.h"
#include "cpu/kernels.h"
#include "tensor/dtype.h"

namespace kiln::cpu::KILN_ISA_NS {
namespace {

template <typename I>
inline int64_t IndexAt(const void* p, int64_t off) {
  return static_cast<int64_t>(static_cast<const I*>(p)[off]);
}

template <typename U, typename I>
void GatherAs(const KernelArgs& args) {
  U* out = static_cast<U*>(args.out[0].data);
  const U* x = static_cast<const U*>(args.in[0].data);
  const void* index = args.in[1].data;
  const int64_t x_stride = args.iattr[1];
  const KArray* const ops[3] = {&args.out[0], &args.in[0], &args.in[1]};
  ForEachPiece(MakeLoop<3>(ops), [&](const int64_t* off, const int64_t* step, int64_t n) {
    for (int64_t j = 0; j < n; ++j) {
      int64_t i = IndexAt<I>(index, off[2] + j * step[2]);
      out[off[0] + j * step[0]] = x[off[1] + j * step[1] + i * x_stride];
    }
  });
}

template <typename U>
void GatherValues(const KernelArgs& args) {
  if (args.in[1].dtype == DType::kI64) {
    GatherAs<U, int64_t>(args);
  } else {
    GatherAs<U, int32_t>(args);
  }
}

template <typename T, typename I>
void GatherBackwardAs(const KernelArgs& args) {
  const int dim = static_cast<int>(args.iattr[0]);
  const KArray& index = args.in[0];
  const KArray& grad = args.in[1];
  const KArray& gx_full = args.out[0];
  T* gx = static_cast<T*>(gx_full.data);
  const T* g = static_cast<const T*>(grad.data);
  int64_t gx_numel = 1;
  for (int d = 0; d < gx_full.ndim; ++d) gx_numel *= gx_full.sizes[d];
  kiln::ParallelForWork(gx_numel, 1, kWalkParallelMin, [&](int64_t i_lo, int64_t i_hi) {
    for (int64_t i = i_lo; i < i_hi; ++i) gx[i] = T(0);
  });

  // Lines: the index shape with `dim` collapsed to 1, walked over (grad_x, index, grad).
  KArray lines_gx = gx_full, lines_index = index, lines_grad = grad;
  for (int d = 0; d < index.ndim; ++d) lines_gx.sizes[d] = index.sizes[d];
  lines_gx.sizes[dim] = lines_index.sizes[dim] = lines_grad.sizes[dim] = 1;
  const int64_t len = index.sizes[dim];
  const int64_t gx_step = gx_full.strides[dim], index_step = index.strides[dim];
  const int64_t grad_step = grad.strides[dim];
  const KArray* const ops[3] = {&lines_gx, &lines_index, &lines_grad};
  ForEachPiece(MakeLoop<3>(ops), [&](const int64_t* off, const int64_t* step, int64_t n) {
    for (int64_t l = 0; l < n; ++l) {
      T* gx_line = gx + off[0] + l * step[0];
      int64_t index_line = off[1] + l * step[1];
      const T* g_line = g + off[2] + l * step[2];
      for (int64_t j = 0; j < len; ++j) {
        gx_line[IndexAt<I>(index.data, index_line + j * index_step) * gx_step] +=
            g_line[j * grad_step];
      }
    }
  });
}

template <typename T>
void GatherBackwardValues(const KernelArgs& args) {
  if (args.in[0].dtype == DType::kI64) {
    GatherBackwardAs<T, int64_t>(args);
  } else {
    GatherBackwardAs<T, int32_t>(args);
  }
}

}  // namespace

// in[0] = x restricted to the index shape (x's strides, stride 0 along dim), in[1] = index
// (i32 / i64, any strides, values already checked in range), out[0] = contiguous (index shape),
// iattr[0] = dim, iattr[1] = x's stride along dim.
void Gather(const KernelArgs& args) {
  switch (DTypeSize(args.in[0].dtype)) {
    case 1:
      GatherValues<uint8_t>(args);
      break;
    case 2:
      GatherValues<uint16_t>(args);
      break;
    case 4:
      GatherValues<uint32_t>(args);
      break;
    default:
      GatherValues<uint64_t>(args);
      break;
  }
}

// in[0] = index (i32 / i64, checked), in[1] = grad (index shape, any strides, f32 / f64),
// out[0] = grad_x (contiguous, x's shape; zeroed here), iattr[0] = dim.
void GatherBackward(const KernelArgs& args) {
  if (args.in[1].dtype == DType::kF64) {
    GatherBackwardValues<double>(args);
  } else {
    GatherBackwardValues<float>(args);
  }
}

}  // namespace kiln::cpu::KILN_ISA_NS
