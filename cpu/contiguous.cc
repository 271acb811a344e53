// CPU kernel of Contiguous: a strided copy into a fresh row-major buffer, by element size, so one
// kernel serves every dtype (copies are exact whatever the thread count or ISA path).
#include "cpu/elementwise.h"
#include "cpu/kernels.h"
#include "tensor/dtype.h"

namespace kiln::cpu::KILN_ISA_NS {

// in[0] = x (any strides), out[0] = y (contiguous, same shape and dtype).
void Contiguous(const KernelArgs& args) {
  StridedCopy(args.out[0], args.in[0], DTypeSize(args.in[0].dtype));
}

}  // namespace kiln::cpu::KILN_ISA_NS
