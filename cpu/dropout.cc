// CPU kernel of Dropout: element i is kept iff the Philox draw for (seed, offset + i) is >= p, so
// the mask is a pure function of the element's flat index (any thread count, any device, and the
// backward re-derives the same mask from the same seed / offset instead of storing it).
#include <cstdint>

#include "base/rng.h"
#include "base/thread_pool.h"
#include "cpu/kernels.h"
#include "tensor/dtype.h"

namespace kiln::cpu::KILN_ISA_NS {
namespace {

template <typename T>
void DropoutAs(const KernelArgs& args) {
  const T* x = static_cast<const T*>(args.in[0].data);
  T* y = static_cast<T*>(args.out[0].data);
  int64_t n = 1;
  for (int d = 0; d < args.in[0].ndim; ++d) n *= args.in[0].sizes[d];
  const uint64_t seed = static_cast<uint64_t>(args.iattr[0]);
  const uint64_t offset = static_cast<uint64_t>(args.iattr[1]);
  const double p = args.fattr[0];
  const T scale = static_cast<T>(p < 1.0 ? 1.0 / (1.0 - p) : 0.0);
  kiln::ParallelForWork(n, 1, 2048, [&](int64_t i_lo, int64_t i_hi) {
    for (int64_t i = i_lo; i < i_hi; ++i) {
      double u = static_cast<double>(
          UniformFromBits(Philox(seed, offset + static_cast<uint64_t>(i)).v[0]));
      y[i] = u >= p ? x[i] * scale : T(0);
    }
  });
}

}  // namespace

// in[0] = x (contiguous), out[0] = y (contiguous), iattr[0] = seed, iattr[1] = offset (both
// uint64 bit patterns), fattr[0] = p in [0, 1].
void Dropout(const KernelArgs& args) {
  if (args.in[0].dtype == DType::kF64) {
    DropoutAs<double>(args);
  } else {
    DropoutAs<float>(args);
  }
}

}  // namespace kiln::cpu::KILN_ISA_NS
