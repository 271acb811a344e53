// CPU kernel of Where: out = cond ? a : b, with cond bool / u8 and a, b of any one dtype (a pure
// selection, so it moves bits by element size). Operands arrive expanded to the output shape.
#include <cstdint>

#include "cpu/elementwise.h"
#include "cpu/kernels.h"
#include "tensor/dtype.h"

namespace kiln::cpu::KILN_ISA_NS {
namespace {

template <typename U>
void SelectAs(const KernelArgs& args) {
  U* out = static_cast<U*>(args.out[0].data);
  const uint8_t* c = static_cast<const uint8_t*>(args.in[0].data);
  const U* a = static_cast<const U*>(args.in[1].data);
  const U* b = static_cast<const U*>(args.in[2].data);
  const KArray* const ops[4] = {&args.out[0], &args.in[0], &args.in[1], &args.in[2]};
  ForEachPiece(MakeLoop<4>(ops), [&](const int64_t* off, const int64_t* step, int64_t n) {
    for (int64_t j = 0; j < n; ++j) {
      out[off[0] + j * step[0]] =
          c[off[1] + j * step[1]] != 0 ? a[off[2] + j * step[2]] : b[off[3] + j * step[3]];
    }
  });
}

}  // namespace

// in[0] = cond (bool / u8), in[1] = a, in[2] = b (same dtype), all expanded to the output shape
// (any strides); out[0] = contiguous, dtype of a.
void Where(const KernelArgs& args) {
  switch (DTypeSize(args.in[1].dtype)) {
    case 1: SelectAs<uint8_t>(args); break;
    case 2: SelectAs<uint16_t>(args); break;
    case 4: SelectAs<uint32_t>(args); break;
    default: SelectAs<uint64_t>(args); break;
  }
}

}  // namespace kiln::cpu::KILN_ISA_NS
