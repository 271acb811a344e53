// Maps each row of ops/ops.def to its backward formula (expanded from the table, so a row whose
// formula is missing is a link error).
#include "ops/backward.h"

namespace kiln::ops {

BackwardFn GetBackward(Op op) {
#define KILN_BW_ROW_KERNEL(Name) &Backward##Name,
#define KILN_BW_ROW_VIEW(Name) &Backward##Name,
#define KILN_BW_ROW_BACKWARD(Name) nullptr,
#define KILN_BW_ROW_UPDATE(Name) nullptr,
#define KILN_OP(Name, KIND) KILN_BW_ROW_##KIND(Name)
  static const BackwardFn kTable[] = {
#include "ops/ops.def"
  };
#undef KILN_OP
  static_assert(sizeof(kTable) / sizeof(kTable[0]) == kNumOps, "backward table out of sync");
  return kTable[static_cast<int>(op)];
}

}  // namespace kiln::ops
