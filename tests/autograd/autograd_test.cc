// The autograd engine: accumulation, grad mode, detach, the saved-tensor version check, graph
// release, error messages.
#include <gtest/gtest.h>

#include "autograd/api.h"
#include "autograd/gradcheck.h"
#include "tests/testing/error_util.h"

namespace kiln {
namespace {

TEST(AutogradTest, TensorUsedTwiceAccumulates) {
  Tensor x = FromVector<double>({1, 2, 3}, {3});
  x.set_requires_grad(true);
  Tensor y = Sum(Mul(x, x));  // d/dx = 2x, through two uses of x
  Backward(y);
  EXPECT_EQ(x.grad().ToVector<double>(), (std::vector<double>{2, 4, 6}));
  // A second backward through a fresh graph adds to the leaf's grad.
  Backward(Sum(x));
  EXPECT_EQ(x.grad().ToVector<double>(), (std::vector<double>{3, 5, 7}));
}

TEST(AutogradTest, GivenOutputGradient) {
  Tensor x = FromVector<double>({1, 2}, {2});
  x.set_requires_grad(true);
  Tensor y = MulScalar(x, 3.0);
  Backward(y, FromVector<double>({1, 10}, {2}));
  EXPECT_EQ(x.grad().ToVector<double>(), (std::vector<double>{3, 30}));
}

TEST(AutogradTest, NoGradAndDetachRecordNothing) {
  Tensor x = Randn({3}, 1);
  x.set_requires_grad(true);
  {
    NoGradGuard guard;
    EXPECT_FALSE(Exp(x).requires_grad());
  }
  EXPECT_TRUE(Exp(x).requires_grad());
  Tensor d = x.Detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_EQ(d.storage(), x.storage());
  EXPECT_FALSE(Exp(d).requires_grad());
}

TEST(AutogradTest, InPlaceChangeOfSavedTensorIsAnError) {
  Tensor x = Randn({4}, 2);
  x.set_requires_grad(true);
  Tensor y = Exp(x);  // Exp saves its output
  Tensor loss = Sum(Mul(y, y));
  y.Fill_(0.0);
  EXPECT_NE(ErrorOf([&] { Backward(loss); })
                .find("a tensor saved for backward was modified in place (saved at version 0, now "
                      "version 1)"),
            std::string::npos);
}

TEST(AutogradTest, SecondBackwardNeedsRetainGraph) {
  Tensor x = Randn({4}, 3);
  x.set_requires_grad(true);
  Tensor loss = Sum(Exp(x));
  Backward(loss, Tensor(), /*retain_graph=*/true);
  Tensor g1 = x.grad();
  Backward(loss);
  EXPECT_EQ(x.grad().ToVector<float>()[0], 2 * g1.ToVector<float>()[0]);
  EXPECT_NE(ErrorOf([&] { Backward(loss); }).find("backward through the graph a second time"),
            std::string::npos);
}

TEST(AutogradTest, BadBackwardCalls) {
  Tensor x = Randn({2, 2}, 4);
  EXPECT_NE(ErrorOf([&] { Backward(Sum(x)); }).find("does not require grad"), std::string::npos);
  x.set_requires_grad(true);
  EXPECT_NE(ErrorOf([&] { Backward(Exp(x)); }).find("a gradient must be given for a non-scalar root"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { Backward(Exp(x), Ones({3})); }).find("gradient shape (3,) does not match"),
            std::string::npos);
}

TEST(AutogradTest, ArgmaxIsNotRecorded) {
  Tensor x = Randn({3, 4}, 5);
  x.set_requires_grad(true);
  Tensor a = Argmax(x, 1);
  EXPECT_EQ(a.dtype(), DType::kI64);
  EXPECT_FALSE(a.requires_grad());
}

TEST(AutogradTest, GradcheckCatchesAWrongGradient) {
  // A function whose "gradient" is wrong on purpose: Detach hides the dependence through one path,
  // so the analytic gradient misses a term and gradcheck must say so.
  auto fn = [](const std::vector<Tensor>& x) { return Mul(x[0], x[0].Detach()); };
  GradcheckResult r = Gradcheck(fn, {Randn({3}, 6, 0, DType::kF64)});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("input 0 element"), std::string::npos) << r.message;
  auto good = [](const std::vector<Tensor>& x) { return Mul(x[0], x[0]); };
  EXPECT_TRUE(Gradcheck(good, {Randn({3}, 6, 0, DType::kF64)}).ok);
}

}  // namespace
}  // namespace kiln
