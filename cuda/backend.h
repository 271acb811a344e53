// The CUDA backends' kernel tables: for each op of ops/ops.def, a kernel with the CPU kernels'
// calling convention (KernelArgs, same slot contract: cpu/*.cc) that runs the op through the
// CUDA launchers of cuda/launchers.inc. One adapter (cuda/runtime/kernel_table.inc) is compiled
// twice: over kiln::cuda_sim (the interpreter, host memory; always built) and over kiln::cuda
// (nvcc's kernels on a GPU, device memory; KILN_CUDA builds only). docs/cuda.md, "Runtime".
#pragma once

#include "ops/kernel_args.h"
#include "ops/op_enum.h"

namespace kiln::cuda_sim {
// Null where the op has no CUDA kernel yet (or is a VIEW row).
KernelFn TableKernel(Op op);
}  // namespace kiln::cuda_sim

namespace kiln::cuda {
// As cuda_sim::TableKernel; only linked in KILN_CUDA builds (KILN_HAVE_CUDA=1).
KernelFn TableKernel(Op op);
// The CUDA device the next kernels of this host thread run on (ops::RunKernel sets it).
void SetLaunchDevice(int index);
}  // namespace kiln::cuda
