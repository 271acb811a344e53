// Tensor core: factories, dtypes and casts, the printer, counter-based randomness, errors.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "autograd/api.h"
#include "base/thread_pool.h"
#include "tests/testing/error_util.h"

namespace kiln {
namespace {

TEST(TensorTest, FactoriesAndRoundTrip) {
  Tensor z = Zeros({2, 3});
  EXPECT_EQ(z.numel(), 6);
  EXPECT_EQ(z.ToVector<float>(), std::vector<float>(6, 0.f));
  EXPECT_EQ(Ones({4}, DType::kI32).ToVector<int32_t>(), std::vector<int32_t>(4, 1));
  EXPECT_EQ(Full({2}, 2.5, DType::kF64).ToVector<double>(), (std::vector<double>{2.5, 2.5}));
  EXPECT_EQ(Arange(0, 5).ToVector<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(Arange(1, 2, 0.25, DType::kF32).ToVector<float>(),
            (std::vector<float>{1, 1.25, 1.5, 1.75}));
  Tensor v = FromVector<float>({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_EQ(v.ToVector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_DOUBLE_EQ(Scalar(3.0).item(), 3.0);
  EXPECT_TRUE(v.is_contiguous());
  EXPECT_EQ(ShapeToString(v.shape()), "(2, 3)");
}

TEST(TensorTest, AllDtypesStoreAndConvert) {
  for (DType dt : {DType::kF32, DType::kF64, DType::kBF16, DType::kF16, DType::kI32, DType::kI64,
                   DType::kU8, DType::kBool}) {
    Tensor t = FromVector<double>({0, 1, 2, 3}, {4}, dt);
    std::vector<double> back = t.ToVector<double>();
    for (int i = 0; i < 4; ++i) {
      double want = dt == DType::kBool ? (i != 0) : i;
      EXPECT_EQ(back[i], want) << DTypeName(dt);
    }
  }
}

TEST(TensorTest, HalfAndBf16RoundToNearestEven) {
  // 1 + 2^-8 is halfway between two bf16 values: ties to even gives 1.0.
  Tensor b = FromVector<float>({1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, 65504.f, 1e-7f, -2.f}, {5});
  std::vector<float> bf = ops::Cast(ops::Cast(b, DType::kBF16), DType::kF32).ToVector<float>();
  EXPECT_EQ(bf[0], 1.0f);
  EXPECT_EQ(bf[1], 1.0f + 4 * 0x1p-8f);
  std::vector<float> h = ops::Cast(ops::Cast(b, DType::kF16), DType::kF32).ToVector<float>();
  EXPECT_EQ(h[2], 65504.f);         // largest f16
  EXPECT_NEAR(h[3], 1e-7f, 3e-8f);  // f16 subnormal
  EXPECT_EQ(h[4], -2.f);
  EXPECT_EQ(HalfBitsToFloat(FloatToHalfBits(1e6f)), INFINITY);
  EXPECT_TRUE(std::isnan(Bf16BitsToFloat(FloatToBf16Bits(NAN))));
}

TEST(TensorTest, RandomIsCounterBased) {
  // Element i of a random tensor depends only on (seed, offset + i): the same values whether drawn
  // as one tensor, in two chunks, or with any number of threads.
  Tensor whole = Randn({1000}, 7);
  Tensor first = Randn({400}, 7, 0), second = Randn({600}, 7, 400);
  std::vector<float> w = whole.ToVector<float>(), a = first.ToVector<float>(),
                     b = second.ToVector<float>();
  for (int i = 0; i < 400; ++i) EXPECT_EQ(w[i], a[i]);
  for (int i = 0; i < 600; ++i) EXPECT_EQ(w[400 + i], b[i]);
  int saved = kiln::NumThreads();
  kiln::SetNumThreads(1);
  std::vector<float> one = Rand({1000}, 9).ToVector<float>();
  kiln::SetNumThreads(3);
  std::vector<float> three = Rand({1000}, 9).ToVector<float>();
  kiln::SetNumThreads(saved);
  EXPECT_EQ(one, three);
  for (float x : one) EXPECT_TRUE(x >= 0.f && x < 1.f);
  EXPECT_NE(Randn({4}, 1).ToVector<float>(), Randn({4}, 2).ToVector<float>());
}

TEST(TensorTest, PrinterIsReadable) {
  Tensor t = FromVector<float>({1, 2.5, -3, 4}, {2, 2});
  std::string s = t.ToString();
  EXPECT_NE(s.find("shape=(2, 2), dtype=f32"), std::string::npos) << s;
  EXPECT_NE(s.find("[[1, 2.5],\n [-3, 4]]"), std::string::npos) << s;
  std::string big = Arange(0, 100).ToString();
  EXPECT_NE(big.find("..."), std::string::npos) << big;
  EXPECT_EQ(Tensor().ToString(), "Tensor(undefined)");
}

TEST(TensorTest, ErrorsNameWhatWasWrong) {
  EXPECT_NE(ErrorOf([] { FromVector<float>({1, 2, 3}, {2, 2}); })
                .find("FromVector: 3 values do not fill shape (2, 2)"),
            std::string::npos);
  EXPECT_NE(ErrorOf([] { Zeros({2}).data<double>(); }).find("data<f64>(): tensor has dtype f32"),
            std::string::npos);
  EXPECT_NE(ErrorOf([] { Zeros({2, 2}).item(); }).find("item(): expected a tensor with one element"),
            std::string::npos);
  EXPECT_NE(ErrorOf([] { Zeros({2}).size(3); }).find("dim 3 is out of range for a 1-D tensor"),
            std::string::npos);
  EXPECT_NE(ErrorOf([] {
              Zeros({2}, DType::kI64).set_requires_grad(true);
            }).find("only floating tensors can require gradients"),
            std::string::npos);
  EXPECT_NE(ErrorOf([] { Tensor::Empty({-1}); }).find("negative size"), std::string::npos);
  EXPECT_NE(ErrorOf([] { Tensor().numel(); }).find("undefined tensor"), std::string::npos);
}

}  // namespace
}  // namespace kiln
