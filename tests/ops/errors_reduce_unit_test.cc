// Bad calls to the reduction and layer ops (Sum ... AdamW): each throws kiln::Error whose message
// names the op and what was expected / given, checked on the message text. CrossEntropy's target
// check runs before any kernel, so an out-of-range target is an error, never a wild read.
#include <gtest/gtest.h>

#include <string>

#include "autograd/api.h"
#include "tests/testing/error_util.h"

namespace kiln {
namespace {

TEST(ReduceErrors, BadDim) {
  std::string m = ErrorOf([] { Sum(Zeros({2, 3}), {2}); });
  EXPECT_HAS(m, "Sum");
  EXPECT_HAS(m, "2");
  m = ErrorOf([] { Softmax(Zeros({2, 3}), -3); });
  EXPECT_HAS(m, "Softmax");
}

TEST(ReduceErrors, RepeatedDim) {
  std::string m = ErrorOf([] { Mean(Zeros({2, 3}), {1, -1}); });
  EXPECT_HAS(m, "Mean: dim -1 appears more than once");
}

TEST(ReduceErrors, IntegerInput) {
  std::string m = ErrorOf([] { Logsumexp(Zeros({2, 3}, DType::kI64), {1}); });
  EXPECT_HAS(m, "Logsumexp: expected x of dtype f32 or f64, got i64");
}

TEST(ReduceErrors, EmptyMaxAndArgmax) {
  std::string m = ErrorOf([] { Max(Zeros({2, 0}), {1}); });
  EXPECT_HAS(m, "Max: cannot reduce over zero elements");
  m = ErrorOf([] { Argmax(Zeros({0, 3}), 0); });
  EXPECT_HAS(m, "Argmax: dim 0 has size 0");
}

TEST(ReduceErrors, MaxBackwardShapes) {
  std::string m = ErrorOf([] {
    ops::MaxBackward(Zeros({2, 3}), Zeros({2}), Zeros({3}), {1}, false);
  });
  EXPECT_HAS(m, "MaxBackward: expected out and grad of shape (2,)");
}

TEST(LayerErrors, LayerNormWeightShape) {
  std::string m = ErrorOf([] { LayerNorm(Zeros({4, 8}), Ones({7}), Zeros({8})); });
  EXPECT_HAS(m, "LayerNorm: expected weight of shape (8,)");
  EXPECT_HAS(m, "got (7,)");
  m = ErrorOf([] { LayerNorm(Zeros({4, 8}), Ones({8}), Zeros({8, 1})); });
  EXPECT_HAS(m, "LayerNorm: expected bias of shape (8,)");
  m = ErrorOf([] { LayerNorm(Zeros({4, 8}), Ones({8}, DType::kF64), Tensor()); });
  EXPECT_HAS(m, "LayerNorm: dtype mismatch, f32 vs f64");
}

TEST(LayerErrors, LayerNormBackwardStats) {
  std::string m = ErrorOf([] {
    ops::LayerNormBackward(Zeros({4, 8}), Ones({8}), Zeros({3}), Ones({4}), Zeros({4, 8}));
  });
  EXPECT_HAS(m, "LayerNormBackward: expected mean with 4 elements");
  m = ErrorOf([] {
    ops::LayerNormBackward(Zeros({4, 8}), Ones({8}), Zeros({4}), Ones({4}), Zeros({8, 4}));
  });
  EXPECT_HAS(m, "LayerNormBackward: expected grad_y of shape (4, 8)");
}

TEST(LayerErrors, RmsNormWeightAndZeroC) {
  std::string m = ErrorOf([] { RmsNorm(Zeros({2, 5}), Ones({4})); });
  EXPECT_HAS(m, "RmsNorm: expected weight of shape (5,)");
  m = ErrorOf([] { RmsNorm(Zeros({2, 0}), Ones({0})); });
  EXPECT_HAS(m, "RmsNorm: the normalized dim C must be > 0");
}

TEST(LayerErrors, RopeShapes) {
  Tensor pos = Zeros({2, 3}, DType::kI64);
  std::string m = ErrorOf([&] { Rope(Zeros({2, 3, 4, 5}), pos); });
  EXPECT_HAS(m, "Rope: the head size HS must be even");
  EXPECT_HAS(m, "(2, 3, 4, 5)");
  m = ErrorOf([&] { Rope(Zeros({2, 3, 4}), pos); });
  EXPECT_HAS(m, "Rope: expected x of shape (B, T, NH, HS), got (2, 3, 4)");
  m = ErrorOf([] { Rope(Zeros({2, 3, 4, 6}), Zeros({3, 2}, DType::kI64)); });
  EXPECT_HAS(m, "Rope: expected positions of shape (2, 3)");
  m = ErrorOf([] { Rope(Zeros({2, 3, 4, 6}), Zeros({2, 3})); });
  EXPECT_HAS(m, "Rope: expected positions of dtype i32 or i64, got f32");
  m = ErrorOf([&] { Rope(Zeros({2, 3, 4, 6}), pos, -1.0); });
  EXPECT_HAS(m, "Rope: expected theta > 0");
}

TEST(LayerErrors, CrossEntropyTargets) {
  Tensor logits = Zeros({3, 5});
  std::string m = ErrorOf([&] { CrossEntropy(logits, FromVector<int64_t>({0, 5, 1}, {3})); });
  EXPECT_HAS(m, "CrossEntropy: target 5 at row 1 is outside [0, 5)");
  EXPECT_HAS(m, "ignore_index (-100)");
  m = ErrorOf([&] { CrossEntropy(logits, FromVector<int32_t>({0, 1, -1}, {3})); });
  EXPECT_HAS(m, "target -1 at row 2");
  m = ErrorOf([&] { CrossEntropy(logits, FromVector<int64_t>({0, 1}, {2})); });
  EXPECT_HAS(m, "CrossEntropy: expected targets of shape (3,)");
  m = ErrorOf([&] { CrossEntropy(logits, Zeros({3})); });
  EXPECT_HAS(m, "CrossEntropy: expected targets of dtype i32 or i64, got f32");
  m = ErrorOf([&] { CrossEntropy(logits, FromVector<int64_t>({0, 1, 2}, {3}), -100, 1.5); });
  EXPECT_HAS(m, "CrossEntropy: expected label_smoothing in [0, 1], got 1.5");
  m = ErrorOf([] { CrossEntropy(Zeros({3}), FromVector<int64_t>({0, 1, 2}, {3})); });
  EXPECT_HAS(m, "CrossEntropy: expected logits of shape (N, V), got (3,)");
}

TEST(LayerErrors, AdamWArguments) {
  Tensor p = Zeros({4}), g = Zeros({4}), m = Zeros({4}), v = Zeros({4});
  std::string msg = ErrorOf([&] { ops::AdamW(p, g, m, v, 0, {}); });
  EXPECT_HAS(msg, "AdamW: step counts from 1, got 0");
  msg = ErrorOf([&] { ops::AdamW(p, Zeros({5}), m, v, 1, {}); });
  EXPECT_HAS(msg, "AdamW: expected grad of shape (4,)");
  msg = ErrorOf([&] { ops::AdamW(p, g, Zeros({4}, DType::kF64), v, 1, {}); });
  EXPECT_HAS(msg, "AdamW: dtype mismatch, f32 vs f64");
  AdamWConfig bad;
  bad.beta2 = 1.0;
  msg = ErrorOf([&] { ops::AdamW(p, g, m, v, 1, bad); });
  EXPECT_HAS(msg, "AdamW: expected beta2 in [0, 1), got 1");
  Tensor strided = ops::Narrow(Zeros({2, 4}), 1, 0, 2);
  msg = ErrorOf([&] { ops::AdamW(strided, Zeros({2, 2}), Zeros({2, 2}), Zeros({2, 2}), 1, {}); });
  EXPECT_HAS(msg, "AdamW: param is updated in place and must be contiguous");
}

TEST(LayerErrors, AdamWBumpsVersions) {
  Tensor p = Ones({4}), g = Ones({4}), m = Zeros({4}), v = Zeros({4});
  int64_t vp = p.version(), vm = m.version(), vv = v.version(), vg = g.version();
  ops::AdamW(p, g, m, v, 1, {});
  EXPECT_GT(p.version(), vp);
  EXPECT_GT(m.version(), vm);
  EXPECT_GT(v.version(), vv);
  EXPECT_EQ(g.version(), vg);
}

}  // namespace
}  // namespace kiln
