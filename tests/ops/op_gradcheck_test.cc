// Every op case with a gradient: gradcheck in f64 (central differences, Sum(out * w)).
#include <gtest/gtest.h>

#include "autograd/gradcheck.h"
#include "tests/ops/op_case.h"

namespace kiln::testing {
namespace {

class OpGradcheck : public ::testing::TestWithParam<size_t> {};

TEST_P(OpGradcheck, AnalyticMatchesNumeric) {
  const OpCase& c = OpCaseRegistry()[GetParam()];
  if (!c.gradcheck) {
    ASSERT_FALSE(c.no_grad_reason.empty()) << c.name << ": gradcheck off without a reason";
    return;  // not differentiable; the coverage test lists the reason
  }
  GradcheckOptions opt;
  opt.inputs = c.grad_inputs;
  // Large "threaded" cases exist to cross the kernels' parallel thresholds; an evenly spaced
  // subset of their elements keeps the test fast (small cases are checked in full).
  opt.max_elements = 96;
  GradcheckResult r = Gradcheck(c.run, c.make_inputs(), opt);
  EXPECT_TRUE(r.ok) << c.name << ": " << r.message;
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpGradcheck,
                         ::testing::Range<size_t>(0, OpCaseRegistry().size()),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           std::string n = OpCaseRegistry()[info.param].name;
                           for (auto& ch : n) {
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return n + "_" + std::to_string(info.param);
                         });

}  // namespace
}  // namespace kiln::testing
