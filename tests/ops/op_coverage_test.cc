// Walks the op enum: every row of ops/ops.def needs a numerics case against a naive reference and
// a gradcheck (or, for a non-differentiable op, a stated reason); a BACKWARD row needs a
// forward case with gradcheck that covers it; an UPDATE row needs a numerics case.
#include <gtest/gtest.h>

#include "tests/ops/op_case.h"

namespace kiln::testing {
namespace {

TEST(OpCoverage, EveryOpHasNumericsAndGradcheck) {
  for (int i = 0; i < kNumOps; ++i) {
    Op op = static_cast<Op>(i);
    bool numerics = false, grad = false;
    std::string reason;
    for (const auto& c : OpCaseRegistry()) {
      for (Op covered : c.covers) {
        if (covered != op) continue;
        numerics = numerics || (c.reference != nullptr && c.run != nullptr);
        grad = grad || c.gradcheck;
        if (!c.gradcheck && !c.no_grad_reason.empty()) reason = c.no_grad_reason;
      }
    }
    EXPECT_TRUE(numerics) << OpName(op) << " has no numerics case against a reference";
    if (KindOf(op) != OpKind::UPDATE) {
      EXPECT_TRUE(grad || !reason.empty())
          << OpName(op) << " has no gradcheck case and no stated reason";
    }
  }
}

TEST(OpCoverage, ReasonsAreListed) {
  for (const auto& c : OpCaseRegistry()) {
    if (!c.gradcheck) {
      EXPECT_FALSE(c.no_grad_reason.empty()) << c.name;
      std::printf("no gradcheck: %s: %s\n", c.name.c_str(), c.no_grad_reason.c_str());
    }
  }
}

}  // namespace
}  // namespace kiln::testing
