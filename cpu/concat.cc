// CPU kernel of Concat: copies one input into its slice of the output. The op layer calls it once
// per input with the output slice (a strided view) as out[0], so any number of inputs works with
// the fixed KernelArgs slots.
#include "cpu/elementwise.h"
#include "cpu/kernels.h"
#include "tensor/dtype.h"

namespace kiln::cpu::KILN_ISA_NS {

// in[0] = one input (any strides), out[0] = its slice of the output (same shape, strided view).
void Concat(const KernelArgs& args) {
  StridedCopy(args.out[0], args.in[0], DTypeSize(args.in[0].dtype));
}

}  // namespace kiln::cpu::KILN_ISA_NS
