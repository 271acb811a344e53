// Builds the CPU kernel table of each instruction-set path by expanding ops/ops.def: a row without
// a kernel in some path is a link error (no static-initializer registration, which linkers drop
// from static libraries).
#include "cpu/backend.h"
#include "cpu/isa.h"
#include "cpu/kernels.h"

namespace kiln::cpu {
namespace {

struct Table {
  KernelFn fn[kNumOps];
};

#define KILN_TABLE_ROW_KERNEL(ns, Name) t.fn[static_cast<int>(Op::k##Name)] = &ns::Name;
#define KILN_TABLE_ROW_BACKWARD(ns, Name) KILN_TABLE_ROW_KERNEL(ns, Name)
#define KILN_TABLE_ROW_UPDATE(ns, Name) KILN_TABLE_ROW_KERNEL(ns, Name)
#define KILN_TABLE_ROW_VIEW(ns, Name)

Table MakeGeneric() {
  Table t{};
#define KILN_OP(Name, KIND) KILN_TABLE_ROW_##KIND(isa_generic, Name)
#include "ops/ops.def"
#undef KILN_OP
  return t;
}
Table MakeAvx2() {
  Table t{};
#define KILN_OP(Name, KIND) KILN_TABLE_ROW_##KIND(isa_avx2, Name)
#include "ops/ops.def"
#undef KILN_OP
  return t;
}
Table MakeAvx512() {
  Table t{};
#define KILN_OP(Name, KIND) KILN_TABLE_ROW_##KIND(isa_avx512, Name)
#include "ops/ops.def"
#undef KILN_OP
  return t;
}

}  // namespace

KernelFn CpuKernel(Op op) {
  static const Table kTables[3] = {MakeGeneric(), MakeAvx2(), MakeAvx512()};
  return kTables[static_cast<int>(ActiveIsa())].fn[static_cast<int>(op)];
}

}  // namespace kiln::cpu
