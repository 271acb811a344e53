// The op enum and its name table, expanded from ops/ops.def (ggml's enum ggml_op + GGML_OP_NAME).
#pragma once

#include <cstdint>

namespace kiln {

enum class Op : int32_t {
#define KILN_OP(Name, KIND) k##Name,
#include "ops/ops.def"
#undef KILN_OP
  kCount
};

inline constexpr int kNumOps = static_cast<int>(Op::kCount);

enum class OpKind : int32_t { KERNEL, VIEW, BACKWARD, UPDATE };

inline constexpr const char* kOpNames[] = {
#define KILN_OP(Name, KIND) #Name,
#include "ops/ops.def"
#undef KILN_OP
};
inline constexpr OpKind kOpKinds[] = {
#define KILN_OP(Name, KIND) OpKind::KIND,
#include "ops/ops.def"
#undef KILN_OP
};
static_assert(sizeof(kOpNames) / sizeof(kOpNames[0]) == kNumOps, "op name table out of sync");
static_assert(sizeof(kOpKinds) / sizeof(kOpKinds[0]) == kNumOps, "op kind table out of sync");

inline const char* OpName(Op op) { return kOpNames[static_cast<int>(op)]; }
inline OpKind KindOf(Op op) { return kOpKinds[static_cast<int>(op)]; }

}  // namespace kiln
