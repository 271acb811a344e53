// Bad calls to the elementwise, data-movement and index ops: each throws kiln::Error whose message
// names the op and what was expected / given (checked on the message text, so a vague or wrong
// message fails here). Also checks the kernels never see a bad index.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "autograd/api.h"
#include "ops/backward.h"
#include "tests/testing/error_util.h"

namespace kiln {
namespace {

TEST(ElementwiseErrors, AddShapeMismatch) {
  std::string m = ErrorOf([] { Add(Zeros({2, 3}), Zeros({4})); });
  EXPECT_HAS(m, "Add");
  EXPECT_HAS(m, "(2, 3)");
  EXPECT_HAS(m, "(4,)");
  EXPECT_HAS(m, "cannot be broadcast");
}

TEST(ElementwiseErrors, DtypeMismatch) {
  std::string m = ErrorOf([] { Mul(Zeros({3}), Zeros({3}, DType::kF64)); });
  EXPECT_HAS(m, "Mul: dtype mismatch, f32 vs f64");
  m = ErrorOf([] { Where(Zeros({3}, DType::kBool), Zeros({3}), Zeros({3}, DType::kF64)); });
  EXPECT_HAS(m, "Where: dtype mismatch");
}

TEST(ElementwiseErrors, NonFloatInputs) {
  std::string m = ErrorOf([] { Gelu(Zeros({3}, DType::kI32)); });
  EXPECT_HAS(m, "Gelu: expected x of dtype f32 or f64, got i32");
  m = ErrorOf([] { Sub(Zeros({3}, DType::kBF16), Zeros({3}, DType::kBF16)); });
  EXPECT_HAS(m, "Sub: expected a of dtype f32 or f64, got bf16");
  m = ErrorOf([] { Where(Zeros({3}, DType::kF32), Zeros({3}), Zeros({3})); });
  EXPECT_HAS(m, "Where: expected cond of dtype bool or u8, got f32");
}

TEST(ElementwiseErrors, UnaryBackwardRejectsOtherRows) {
  std::string m = ErrorOf([] {
    ops::UnaryBackward(static_cast<int>(Op::kMatmul), Zeros({2}), Zeros({2}), Zeros({2}));
  });
  EXPECT_HAS(m, "UnaryBackward: expected one of");
  EXPECT_HAS(m, "got Matmul");
  m = ErrorOf([] {
    ops::UnaryBackward(static_cast<int>(Op::kExp), Tensor(), Zeros({3}), Zeros({2}));
  });
  EXPECT_HAS(m, "UnaryBackward (Exp): y has shape (3,), grad_y has shape (2,)");
}

TEST(ElementwiseErrors, EmbeddingIdOutOfRange) {
  Tensor w = Zeros({10, 4});
  std::string m = ErrorOf([&] {
    Embedding(w, FromVector<int64_t>({1, 2, 10, 3}, {2, 2}));
  });
  EXPECT_HAS(m, "Embedding: id 10 at position (1, 0)");
  EXPECT_HAS(m, "out of range [0, 10)");
  m = ErrorOf([&] { Embedding(w, FromVector<int32_t>({0, -1}, {2})); });
  EXPECT_HAS(m, "Embedding: id -1 at position (1,)");
  m = ErrorOf([&] { Embedding(w, Zeros({2}, DType::kF32)); });
  EXPECT_HAS(m, "Embedding: expected ids of dtype i32 or i64, got f32");
  m = ErrorOf([&] { Embedding(Zeros({10}), FromVector<int64_t>({1}, {1})); });
  EXPECT_HAS(m, "Embedding: expected weight of shape (V, C), got shape (10,)");
  m = ErrorOf([&] { ops::EmbeddingBackward(FromVector<int64_t>({7}, {1}), Zeros({1, 4}), 5); });
  EXPECT_HAS(m, "EmbeddingBackward: id 7 at position (0,)");
}

TEST(ElementwiseErrors, GatherIndexOutOfRange) {
  Tensor x = Zeros({3, 4});
  std::string m = ErrorOf([&] { Gather(x, 1, FromVector<int64_t>({0, 4, 1}, {3, 1})); });
  EXPECT_HAS(m, "Gather: index 4 at position (1, 0) is out of range [0, 4) for dim 1");
  m = ErrorOf([&] { Gather(x, 0, FromVector<int32_t>({-2}, {1, 1})); });
  EXPECT_HAS(m, "Gather: index -2 at position (0, 0) is out of range [0, 3)");
  m = ErrorOf([&] { Gather(x, 0, FromVector<int64_t>({0, 1}, {2})); });
  EXPECT_HAS(m, "Gather: index must have as many dims as x (2)");
  m = ErrorOf([&] { Gather(x, 0, FromVector<int64_t>({0, 0, 0, 0, 0}, {1, 5})); });
  EXPECT_HAS(m, "is larger than x of shape (3, 4) in dim 1");
  m = ErrorOf([&] { Gather(x, 2, FromVector<int64_t>({0}, {1, 1})); });
  EXPECT_HAS(m, "Gather: dim 2 is out of range");
}

TEST(ElementwiseErrors, ConcatBadDims) {
  std::string m = ErrorOf([] { Concat({Zeros({2, 3}), Zeros({2, 4})}, 0); });
  EXPECT_HAS(m, "Concat: along dim 0, tensor 1 of shape (2, 4) does not match tensor 0 "
                           "of shape (2, 3) in dim 1");
  m = ErrorOf([] { Concat({Zeros({2, 3}), Zeros({2, 3, 1})}, 0); });
  EXPECT_HAS(m, "Concat: all tensors must have 2 dims");
  m = ErrorOf([] { Concat({Zeros({2, 3}), Zeros({2, 3})}, 2); });
  EXPECT_HAS(m, "Concat: dim 2 is out of range for a 2-D tensor");
  m = ErrorOf([] { Concat({Zeros({2}), Zeros({2}, DType::kF64)}, 0); });
  EXPECT_HAS(m, "Concat: all tensors must have one dtype; tensor 0 is f32, tensor 1 is "
                           "f64");
  m = ErrorOf([] { Concat({}, 0); });
  EXPECT_HAS(m, "Concat: expected at least one tensor");
}

TEST(ElementwiseErrors, CastBackwardOnlyBetweenFloatingDtypes) {
  std::vector<Tensor> inputs{Tensor()}, outputs{Tensor()}, grads{Zeros({2})};
  OpAttrs attrs;
  attrs.ints.push_back(static_cast<int64_t>(DType::kI32));
  std::vector<bool> needs{true};
  BackwardCtx ctx{Op::kCast, inputs, outputs, grads, attrs, needs};
  std::string m = ErrorOf([&] { ops::BackwardCast(ctx); });
  EXPECT_HAS(m, "Cast backward: gradients flow only between floating dtypes, got a "
                           "cast from i32");
}

TEST(ElementwiseErrors, DropoutBadP) {
  std::string m = ErrorOf([] { Dropout(Zeros({3}), 1.5, 1, 0); });
  EXPECT_HAS(m, "Dropout: expected p in [0, 1], got 1.5");
}

TEST(ElementwiseErrors, MaximumBackwardGradShape) {
  std::string m = ErrorOf([] { ops::MaximumBackward(Zeros({2, 3}), Zeros({3}), Zeros({3})); });
  EXPECT_HAS(m, "MaximumBackward: expected grad of the broadcast shape (2, 3), got (3,)");
}

// Edge behaviour that is not an error: same-dtype Cast and contiguous Contiguous return the input.
TEST(ElementwiseEdges, NoOpsReturnTheInput) {
  Tensor x = Zeros({2, 3});
  EXPECT_TRUE(Cast(x, DType::kF32).SameAs(x));
  EXPECT_TRUE(Contiguous(x).SameAs(x));
  EXPECT_TRUE(Dropout(x, 0.0, 1, 2).SameAs(x));
  EXPECT_FALSE(Contiguous(Transpose(x, 0, 1)).SameAs(x));
}

TEST(ElementwiseEdges, CastSaturatesAndRounds) {
  Tensor x = FromVector<double>({1e10, -1e10, -3.7, 3.7, 300.0, -5.0}, {6});
  EXPECT_EQ(Cast(x, DType::kI32).ToVector<int64_t>(),
            (std::vector<int64_t>{2147483647, -2147483648LL, -3, 3, 300, -5}));
  EXPECT_EQ(Cast(x, DType::kU8).ToVector<int64_t>(),
            (std::vector<int64_t>{255, 0, 0, 3, 255, 0}));
  Tensor nan = FromVector<double>({std::nan(""), 0.0}, {2});
  EXPECT_EQ(Cast(nan, DType::kI64).ToVector<int64_t>(), (std::vector<int64_t>{0, 0}));
  EXPECT_EQ(Cast(nan, DType::kBool).ToVector<int64_t>(), (std::vector<int64_t>{1, 0}));
  // 1 + 2^-8 is a bf16 tie: rounds to even (1.0); 1 + 3 * 2^-8 rounds up to 1 + 2^-6.
  Tensor t = FromVector<float>({1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f}, {2});
  EXPECT_EQ(Cast(Cast(t, DType::kBF16), DType::kF32).ToVector<double>(),
            (std::vector<double>{1.0, 1.0 + 0x1p-6}));
  Tensor big = FromVector<int64_t>({(1LL << 40) + 5}, {1});
  EXPECT_EQ(Cast(big, DType::kI32).ToVector<int64_t>(), (std::vector<int64_t>{5}));
}

TEST(ElementwiseEdges, MaximumPropagatesNan) {
  Tensor a = FromVector<float>({std::nanf(""), 1.0f, 2.0f}, {3});
  Tensor b = FromVector<float>({0.0f, std::nanf(""), 2.0f}, {3});
  std::vector<double> m = Maximum(a, b).ToVector<double>();
  EXPECT_TRUE(std::isnan(m[0]));
  EXPECT_TRUE(std::isnan(m[1]));
  EXPECT_EQ(m[2], 2.0);
}

}  // namespace
}  // namespace kiln
