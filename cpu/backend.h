// The CPU backend's kernel table: the kernel of an op on the active instruction-set path.
#pragma once

#include "ops/kernel_args.h"
#include "ops/op_enum.h"

namespace kiln::cpu {

// Null for VIEW rows (they have no kernel).
KernelFn CpuKernel(Op op);

}  // namespace kiln::cpu
