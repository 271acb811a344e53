// Declarations of every CPU kernel, one per KERNEL / BACKWARD / UPDATE row of ops/ops.def, in each
// instruction-set namespace. Kernel files define them inside namespace kiln::cpu::KILN_ISA_NS.
// Plain declarations only: kernel files may include this (see cpu/CMakeLists.txt).
#pragma once

#include "ops/kernel_args.h"

#define KILN_CPU_DECL_KERNEL(Name) void Name(const ::kiln::KernelArgs& args);
#define KILN_CPU_DECL_BACKWARD(Name) KILN_CPU_DECL_KERNEL(Name)
#define KILN_CPU_DECL_UPDATE(Name) KILN_CPU_DECL_KERNEL(Name)
#define KILN_CPU_DECL_VIEW(Name)
#define KILN_OP(Name, KIND) KILN_CPU_DECL_##KIND(Name)

namespace kiln::cpu::isa_generic {
#include "ops/ops.def"
}  // namespace kiln::cpu::isa_generic
namespace kiln::cpu::isa_avx2 {
#include "ops/ops.def"
}  // namespace kiln::cpu::isa_avx2
namespace kiln::cpu::isa_avx512 {
#include "ops/ops.def"
}  // namespace kiln::cpu::isa_avx512

#undef KILN_OP
