// bf16 operands of the CPU's GEMM-family kernels (Linear, Matmul, LinearCrossEntropy and its
// backward; mixed precision, docs/mixed_precision.md). Each bf16 input is widened once into a
// dense f32 copy (exact: every bf16 value is an f32 value) and the f32 kernel runs on the copies,
// so a bf16 result is bitwise the f32 kernel's on the rounded values, on every path and thread
// count. The copies come from the host caching allocator. What bf16 saves on the CPU is memory
// between ops (the saved GEMM inputs), not GEMM time.
// Plain header: per-ISA kernel files include it. Defined in cpu/dispatch/bf16_operands.cc.
#pragma once

#include "ops/kernel_args.h"

namespace kiln::cpu {

struct WidenedOperands {
  KernelArgs args;                           // args with bf16 inputs replaced by f32 copies
  void* blocks[KernelArgs::kMaxIn] = {};     // the copies (null where the input was not bf16)
  int64_t bytes[KernelArgs::kMaxIn] = {};
};

// Fills w from args; returns whether any input was bf16 (false: w->args is args, nothing held).
bool WidenBf16Operands(const KernelArgs& args, WidenedOperands* w);
void FreeWidenedOperands(WidenedOperands* w);

namespace KILN_ISA_NS {
// Scoped form, per instruction-set namespace (no inline code shared across paths).
class Bf16Operands {
 public:
  explicit Bf16Operands(const KernelArgs& args) { WidenBf16Operands(args, &w_); }
  ~Bf16Operands() { FreeWidenedOperands(&w_); }
  Bf16Operands(const Bf16Operands&) = delete;
  Bf16Operands& operator=(const Bf16Operands&) = delete;
  const KernelArgs& args() const { return w_.args; }

 private:
  WidenedOperands w_;
};
}  // namespace KILN_ISA_NS

}  // namespace kiln::cpu
