#include "cpu/bf16_operands.h"

#include <cstdint>

#include "base/thread_pool.h"
#include "tensor/half.h"
#include "tensor/storage.h"

namespace kiln::cpu {
namespace {

constexpr int64_t kGrain = 1 << 15;  // elements per thread at least (scheduling only)

// Dense row-major f32 copy of the strided bf16 array a into dst.
void Widen(float* dst, const KArray& a, int64_t numel) {
  const int64_t inner = a.ndim > 0 ? a.sizes[a.ndim - 1] : 1;
  const int64_t rows = inner > 0 ? numel / inner : 0;
  const auto* src = static_cast<const uint16_t*>(a.data);
  ParallelFor(rows, (kGrain + inner - 1) / (inner > 0 ? inner : 1), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      int64_t off = 0, rem = r;
      for (int d = a.ndim - 2; d >= 0; --d) {
        off += rem % a.sizes[d] * a.strides[d];
        rem /= a.sizes[d];
      }
      const int64_t step = a.ndim > 0 ? a.strides[a.ndim - 1] : 1;
      float* out = dst + r * inner;
      for (int64_t j = 0; j < inner; ++j) out[j] = Bf16BitsToFloat(src[off + j * step]);
    }
  });
}

}  // namespace

bool WidenBf16Operands(const KernelArgs& args, WidenedOperands* w) {
  w->args = args;
  bool any = false;
  for (int i = 0; i < args.n_in; ++i) {
    const KArray& a = args.in[i];
    if (a.dtype != DType::kBF16 || a.data == nullptr) continue;
    int64_t numel = 1;
    for (int d = 0; d < a.ndim; ++d) numel *= a.sizes[d];
    w->bytes[i] = numel * static_cast<int64_t>(sizeof(float));
    w->blocks[i] = CpuAllocator()->Allocate(w->bytes[i]);
    Widen(static_cast<float*>(w->blocks[i]), a, numel);
    KArray& out = w->args.in[i];
    out.data = w->blocks[i];
    out.dtype = DType::kF32;
    int64_t s = 1;
    for (int d = a.ndim - 1; d >= 0; --d) {
      out.strides[d] = s;
      s *= a.sizes[d];
    }
    any = true;
  }
  return any;
}

void FreeWidenedOperands(WidenedOperands* w) {
  for (int i = 0; i < KernelArgs::kMaxIn; ++i) {
    if (w->blocks[i] != nullptr) CpuAllocator()->Free(w->blocks[i], w->bytes[i]);
    w->blocks[i] = nullptr;
  }
}

}  // namespace kiln::cpu
