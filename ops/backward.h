// Backward formulas: one per differentiable row of ops/ops.def (KERNEL and VIEW rows), written with
// plain ops only, so they run on every backend and gradcheck covers them (PyTorch's
// derivatives.yaml, ggml's ggml_compute_backward). autograd/ wires each row to its formula.
#pragma once

#include <vector>

#include "absl/container/inlined_vector.h"
#include "ops/op_enum.h"
#include "tensor/tensor.h"

namespace kiln {

// Non-tensor arguments an op's backward needs (dims, flags, eps, seeds...), in the order the op's
// differentiable wrapper (autograd/api.cc) documents.
struct OpAttrs {
  absl::InlinedVector<int64_t, 8> ints;
  absl::InlinedVector<double, 4> floats;
};

struct BackwardCtx {
  Op op;
  const std::vector<Tensor>& inputs;   // the op's inputs (undefined where not saved)
  const std::vector<Tensor>& outputs;  // the op's outputs (undefined where not saved)
  const std::vector<Tensor>& grads;    // gradient of each output; undefined means zero
  const OpAttrs& attrs;
  const std::vector<bool>& needs_grad;  // per input
};

// Returns one gradient per input (undefined where not needed or not differentiable).
using BackwardFn = std::vector<Tensor> (*)(const BackwardCtx&);

namespace ops {
#define KILN_OP(Name, KIND) KILN_BACKWARD_DECL_##KIND(Name)
#define KILN_BACKWARD_DECL_KERNEL(Name) std::vector<Tensor> Backward##Name(const BackwardCtx& ctx);
#define KILN_BACKWARD_DECL_VIEW(Name) std::vector<Tensor> Backward##Name(const BackwardCtx& ctx);
#define KILN_BACKWARD_DECL_BACKWARD(Name)
#define KILN_BACKWARD_DECL_UPDATE(Name)
#include "ops/ops.def"
#undef KILN_OP

// The formula of a row, or null for BACKWARD / UPDATE rows.
BackwardFn GetBackward(Op op);

// The output gradient as the GEMMs of a GEMM-family backward take it: cast to bf16 when an
// operand is bf16 (mixed precision: every GEMM operand is bf16, as PyTorch's autocast has it),
// else g itself. Defined in ops/matmul.cc.
Tensor GemmGrad(const Tensor& g, const Tensor& a, const Tensor& b);
}  // namespace ops

}  // namespace kiln
