// Every op case: kiln's forward in f32 and in f64 against the naive f64 reference.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/ops/op_case.h"

namespace kiln::testing {
namespace {

std::vector<Tensor> CastFloating(const std::vector<Tensor>& xs, DType dtype) {
  std::vector<Tensor> out;
  for (const auto& x : xs) {
    out.push_back(x.defined() && IsFloating(x.dtype()) ? ops::Cast(x, dtype) : x);
  }
  return out;
}

void ExpectClose(const Tensor& got, const Tensor& want, double atol, double rtol,
                 const std::string& what) {
  ASSERT_EQ(ShapeToString(got.shape()), ShapeToString(want.shape())) << what;
  std::vector<double> g = got.ToVector<double>(), w = want.ToVector<double>();
  int bad = 0;
  for (size_t i = 0; i < g.size() && bad < 5; ++i) {
    bool both_nan = std::isnan(g[i]) && std::isnan(w[i]);
    bool same_inf = std::isinf(g[i]) && g[i] == w[i];
    if (both_nan || same_inf) continue;
    if (!(std::fabs(g[i] - w[i]) <= atol + rtol * std::fabs(w[i]))) {
      ADD_FAILURE() << what << ": element " << i << ": got " << g[i] << ", want " << w[i];
      ++bad;
    }
  }
}

class OpNumerics : public ::testing::TestWithParam<size_t> {};

TEST_P(OpNumerics, MatchesReference) {
  const OpCase& c = OpCaseRegistry()[GetParam()];
  SCOPED_TRACE(c.name);
  std::vector<Tensor> inputs = c.make_inputs();
  Tensor want = c.reference(inputs);
  Tensor got64 = c.run(CastFloating(inputs, DType::kF64));
  ExpectClose(got64, want, 1e-10, 1e-9, c.name + " (f64)");
  Tensor got32 = c.run(CastFloating(inputs, DType::kF32));
  if (IsFloating(want.dtype())) {
    EXPECT_EQ(got32.dtype(), DType::kF32) << c.name;
  }
  ExpectClose(got32, want, c.atol, c.rtol, c.name + " (f32)");
}

INSTANTIATE_TEST_SUITE_P(AllOps, OpNumerics,
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
