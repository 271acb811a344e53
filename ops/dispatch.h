// From tensors to a backend kernel: KArray views of tensors and the kernel lookup by (op, device).
#pragma once

#include "ops/kernel_args.h"
#include "ops/op_enum.h"
#include "tensor/tensor.h"

namespace kiln::ops {

// A KArray does not own its data: the tensor must outlive the kernel call.
KArray ToKArray(const Tensor& t);
// For temporaries: allowed only when the storage outlives the temporary (a view of a live tensor);
// a temporary that holds the last reference (ToKArray(Contiguous(x)) of a non-contiguous x) would
// hand the kernel freed memory, so it throws an internal error naming the op site instead.
KArray ToKArray(Tensor&& t);
// The kernel for `op` on `device`; throws when the device has no backend in this build.
KernelFn GetKernel(Op op, Device device);
// Runs op's kernel on args (device taken from the first output, else the first input).
void RunKernel(Op op, const KernelArgs& args, Device device);

// Checks shared by many ops.
void CheckFloat(const Tensor& t, const char* op, const char* what);
void CheckSameDtype(const Tensor& a, const Tensor& b, const char* op);
void CheckIndexDtype(const Tensor& t, const char* op, const char* what);
// The GEMM-family ops (Linear, Matmul, LinearCrossEntropy) also take bf16 operands (mixed
// precision, docs/mixed_precision.md): each of a and b is f32 or bf16 (then the result is f32:
// bf16 values are read exactly and the math is f32's), or both are f64. Checks that, and the
// devices; returns the dtype of the result (and of bias / lse / gradients).
DType GemmDtype(const Tensor& a, const Tensor& b, const char* op, const char* what_a,
                const char* what_b);

// Fills the ops/weight_hint.h slots at `base` for the weight operand exactly as the kernel will
// read it; `stable` is the caller's promise (ops::Linear's stable_weight). Pass the tensor whose
// data goes into the KArray, and stable = false when it is a fresh contiguous copy. Defined in
// ops/weight_hint.cc.
void SetWeightHint(KernelArgs& args, int base, const Tensor& weight, bool stable);

}  // namespace kiln::ops
