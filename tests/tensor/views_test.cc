// Views share storage; Contiguous copies; a view that cannot be taken is an error.
#include <gtest/gtest.h>

#include "autograd/api.h"
#include "tests/testing/error_util.h"

namespace kiln {
namespace {

TEST(ViewsTest, ViewsShareStorage) {
  Tensor x = FromVector<float>({0, 1, 2, 3, 4, 5}, {2, 3});
  Tensor t = ops::Transpose(x, 0, 1);
  EXPECT_EQ(t.storage(), x.storage());
  EXPECT_FALSE(t.is_contiguous());
  EXPECT_EQ(t.ToVector<float>(), (std::vector<float>{0, 3, 1, 4, 2, 5}));
  Tensor n = ops::Narrow(x, 1, 1, 2);
  n.Fill_(9);
  EXPECT_EQ(x.ToVector<float>(), (std::vector<float>{0, 9, 9, 3, 9, 9}));
  Tensor e = ops::Expand(ops::View(Arange(0, 3, 1, DType::kF32), {3, 1}), {3, 4});
  EXPECT_EQ(e.strides()[1], 0);
  EXPECT_EQ(e.ToVector<float>()[5], 1.f);
  Tensor u = ops::Unsqueeze(x, 0);
  EXPECT_EQ(ShapeToString(u.shape()), "(1, 2, 3)");
  EXPECT_EQ(ShapeToString(ops::Squeeze(u, 0).shape()), "(2, 3)");
  Tensor p = ops::Permute(ops::View(Arange(0, 24, 1, DType::kF32), {2, 3, 4}), {2, 0, 1});
  EXPECT_EQ(ShapeToString(p.shape()), "(4, 2, 3)");
  EXPECT_EQ(p.ToVector<float>()[1], 4.f);
  auto parts = ops::Split(x, {1, 2}, 1);
  EXPECT_EQ(parts[1].storage(), x.storage());
}

TEST(ViewsTest, ContiguousCopiesOnlyWhenNeeded) {
  Tensor x = Randn({4, 5}, 1);
  EXPECT_TRUE(ops::Contiguous(x).SameAs(x));
  Tensor c = ops::Contiguous(ops::Transpose(x, 0, 1));
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_NE(c.storage(), x.storage());
  EXPECT_EQ(c.ToVector<float>(), ops::Transpose(x, 0, 1).ToVector<float>());
  // Reshape of a transposed tensor must copy; View must refuse.
  EXPECT_NE(ops::Reshape(ops::Transpose(x, 0, 1), {20}).storage(), x.storage());
  EXPECT_EQ(ops::Reshape(x, {20}).storage(), x.storage());
}

TEST(ViewsTest, BadViewsAreErrors) {
  Tensor x = Zeros({4, 5});
  EXPECT_NE(ErrorOf([&] { ops::View(ops::Transpose(x, 0, 1), {20}); })
                .find("View: cannot view a tensor of shape (5, 4)"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { ops::View(x, {3, 7}); }).find("shape (3, 7) is invalid for 20 elements"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { ops::View(x, {-1, -1}); }).find("only one dim may be -1"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { ops::Narrow(x, 1, 3, 4); }).find("Narrow: slice [3, 7) is out of range"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { ops::Permute(x, {0, 0}); }).find("Permute: dim 0 appears twice"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { ops::Expand(x, {3, 5}); }).find("Expand: cannot expand shape (4, 5)"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { ops::Squeeze(x, 0); }).find("Squeeze: dim 0 has size 4, expected 1"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { ops::Transpose(x, 0, 2); }).find("Transpose: dim 2 is out of range"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { ops::Split(x, {2, 2}, 1); }).find("Split: sizes sum to 4 but dim 1 has size 5"),
            std::string::npos);
}

}  // namespace
}  // namespace kiln
