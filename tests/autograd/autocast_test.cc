// bf16 mixed precision (autograd/grad_mode.h AutocastGuard, docs/mixed_precision.md) on the CPU:
//   - the GEMM-family ops take bf16 operands and give f32 results bitwise equal to the f32 op on
//     the operands widened to f32, on every instruction-set path (Linear with its bias, Matmul
//     plain / transposed / batched / shared weight, LinearCrossEntropy and its backward);
//   - under autocast, Linear's forward and gradients are exactly the documented recipe (bf16
//     operands, the gradient cast to bf16 before the two backward GEMMs, the bias gradient from the
//     f32 gradient) and within bf16 rounding of the f32 results;
//   - bad dtypes give one-line errors naming the op.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "autograd/api.h"
#include "autograd/grad_mode.h"
#include "cpu/isa.h"
#include "ops/api.h"
#include "tests/testing/error_util.h"

namespace kiln {
namespace {

bool SameBits(const Tensor& a, const Tensor& b) {
  if (a.dtype() != b.dtype() || a.shape() != b.shape()) return false;
  const std::vector<float> x = a.ToVector<float>(), y = b.ToVector<float>();
  return std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

// ||a - b|| / ||b||.
double RelNorm(const Tensor& a, const Tensor& b) {
  const auto x = a.ToVector<double>(), y = b.ToVector<double>();
  double d = 0, n = 0;
  for (size_t i = 0; i < x.size(); ++i) d += (x[i] - y[i]) * (x[i] - y[i]), n += y[i] * y[i];
  return std::sqrt(d / n);
}

Tensor Bf16(const Tensor& t) { return ops::Cast(t, DType::kBF16); }
Tensor F32(const Tensor& t) { return ops::Cast(t, DType::kF32); }

class Bf16OpsTest : public ::testing::TestWithParam<cpu::Isa> {
 protected:
  void SetUp() override {
    saved_ = cpu::ActiveIsa();
    cpu::SetIsa(GetParam());
  }
  void TearDown() override { cpu::SetIsa(saved_); }
  cpu::Isa saved_;
};

TEST_P(Bf16OpsTest, LinearAndMatmulAreTheF32OpsOnWidenedOperands) {
  for (int64_t n : {1, 7, 33}) {
    const Tensor x = Bf16(Randn({n, 45}, 1 + n)), w = Bf16(Randn({29, 45}, 2)), b = Randn({29}, 3);
    const Tensor y = ops::Linear(x, w, b);
    EXPECT_EQ(y.dtype(), DType::kF32);
    EXPECT_TRUE(SameBits(y, ops::Linear(F32(x), F32(w), b))) << "n=" << n;
    EXPECT_TRUE(SameBits(ops::Linear(x, w, Tensor()), ops::Linear(F32(x), F32(w), Tensor())));
    // One bf16 operand mixes with an f32 one.
    EXPECT_TRUE(SameBits(ops::Linear(F32(x), w, b), ops::Linear(F32(x), F32(w), b)));
  }
  const Tensor a = Bf16(Randn({3, 17, 20}, 4)), bt = Bf16(Randn({3, 11, 20}, 5));
  const Tensor w2 = Bf16(Randn({20, 13}, 6));
  EXPECT_TRUE(SameBits(ops::Matmul(a, bt, false, true), ops::Matmul(F32(a), F32(bt), false, true)));
  EXPECT_TRUE(SameBits(ops::Matmul(a, a, true, false), ops::Matmul(F32(a), F32(a), true, false)));
  EXPECT_TRUE(SameBits(ops::Matmul(a, w2), ops::Matmul(F32(a), F32(w2))));
  // A transposed view (the op layer flips the flag instead of copying).
  const Tensor at = ops::Transpose(a, -1, -2);
  EXPECT_TRUE(SameBits(ops::Matmul(at, bt, true, true), ops::Matmul(F32(a), F32(bt), false, true)));
}

TEST_P(Bf16OpsTest, LinearCrossEntropyIsTheF32OpOnWidenedOperands) {
  const Tensor h = Bf16(Randn({37, 24}, 7)), w = Bf16(Randn({50, 24}, 8));
  std::vector<int32_t> t(37);
  for (size_t i = 0; i < t.size(); ++i) t[i] = static_cast<int32_t>((i * 7) % 50);
  t[3] = -100;
  const Tensor targets = FromVector(t, {37});
  const auto got = ops::LinearCrossEntropy(h, w, targets, -100, 0.1);
  const auto want = ops::LinearCrossEntropy(F32(h), F32(w), targets, -100, 0.1);
  ASSERT_EQ(got[0].dtype(), DType::kF32);
  EXPECT_TRUE(SameBits(got[0], want[0]));
  EXPECT_TRUE(SameBits(got[1], want[1]));
  const Tensor g = Randn({37}, 9);
  const auto gb = ops::LinearCrossEntropyBackward(h, w, targets, got[1], g, -100, 0.1);
  const auto gf = ops::LinearCrossEntropyBackward(F32(h), F32(w), targets, want[1], g, -100, 0.1);
  EXPECT_TRUE(SameBits(gb[0], gf[0]));
  EXPECT_TRUE(SameBits(gb[1], gf[1]));
  EXPECT_EQ(gb[1].dtype(), DType::kF32);
}

INSTANTIATE_TEST_SUITE_P(Isas, Bf16OpsTest, ::testing::ValuesIn(cpu::AvailableIsas()),
                         [](const ::testing::TestParamInfo<cpu::Isa>& info) {
                           return std::string(cpu::IsaName(info.param));
                         });

TEST(AutocastTest, LinearFollowsTheRecipeAndStaysNearF32) {
  Tensor x = Randn({9, 40}, 11), w = Randn({23, 40}, 12), b = Randn({23}, 13);
  for (Tensor* p : {&x, &w, &b}) p->set_requires_grad(true);
  const Tensor g = Randn({9, 23}, 14);

  Tensor y32 = Linear(x, w, b);
  Backward(y32, g);
  const Tensor gx32 = x.grad(), gw32 = w.grad(), gb32 = b.grad();
  for (Tensor* p : {&x, &w, &b}) p->set_grad(Tensor());

  Tensor y;
  {
    AutocastGuard autocast(DType::kBF16);
    EXPECT_EQ(AutocastDtype(), DType::kBF16);
    y = Linear(x, w, b);
  }
  EXPECT_EQ(AutocastDtype(), DType::kF32);
  ASSERT_EQ(y.dtype(), DType::kF32);
  Backward(y, g);
  const Tensor xb = Bf16(x), wb = Bf16(w), g16 = Bf16(g);
  EXPECT_TRUE(SameBits(y, ops::Linear(xb, wb, b)));
  EXPECT_TRUE(SameBits(x.grad(), ops::Matmul(g16, wb)));
  EXPECT_TRUE(SameBits(w.grad(), ops::Matmul(g16, xb, true, false)));
  EXPECT_TRUE(SameBits(b.grad(), ops::BiasGrad(g)));
  EXPECT_EQ(x.grad().dtype(), DType::kF32);
  EXPECT_EQ(w.grad().dtype(), DType::kF32);
  // bf16 keeps 8 significant bits: results within a few 2^-8 of the f32 ones, and not equal.
  for (const auto& [got, want] : {std::pair{y, y32}, std::pair{x.grad(), gx32},
                                  std::pair{w.grad(), gw32}}) {
    const double d = RelNorm(got, want);
    EXPECT_LT(d, 2e-2);
    EXPECT_GT(d, 0);
  }
}

TEST(AutocastTest, MatmulAndLinearCrossEntropyCastUnderAutocastOnly) {
  Tensor h = Randn({6, 16}, 21), w = Randn({30, 16}, 22);
  h.set_requires_grad(true);
  w.set_requires_grad(true);
  const Tensor targets = FromVector(std::vector<int32_t>{1, 2, 3, 29, 0, 7}, {6});
  const Tensor plain = LinearCrossEntropy(h, w, targets);
  Tensor loss, mm;
  {
    AutocastGuard autocast(DType::kBF16);
    loss = LinearCrossEntropy(h, w, targets);
    mm = Matmul(h, w, false, true);
  }
  EXPECT_TRUE(SameBits(mm, ops::Matmul(Bf16(h), Bf16(w), false, true)));
  EXPECT_TRUE(SameBits(loss, LinearCrossEntropy(F32(Bf16(h)), F32(Bf16(w)), targets)));
  EXPECT_FALSE(SameBits(loss, plain));
  Backward(Sum(loss));
  EXPECT_EQ(h.grad().dtype(), DType::kF32);
  EXPECT_EQ(w.grad().dtype(), DType::kF32);
  // Other ops keep their dtype under autocast.
  AutocastGuard autocast(DType::kBF16);
  EXPECT_EQ(Gelu(h).dtype(), DType::kF32);
}

TEST(AutocastTest, AttentionReadsBf16QkvExactly) {
  Tensor q = Randn({2, 4, 7, 16}, 31), k = Randn({2, 2, 7, 16}, 32), v = Randn({2, 2, 7, 16}, 33);
  for (Tensor* p : {&q, &k, &v}) p->set_requires_grad(true);
  Tensor y;
  {
    AutocastGuard autocast(DType::kBF16);
    y = Attention(q, k, v, Tensor());
  }
  ASSERT_EQ(y.dtype(), DType::kF32);
  const auto want = ops::Attention(F32(Bf16(q)), F32(Bf16(k)), F32(Bf16(v)), Tensor(), 0.25);
  EXPECT_TRUE(SameBits(y, want[0]));
  const Tensor g = Randn(y.shape(), 34);
  Backward(y, g);
  const auto gw = ops::AttentionBackward(F32(Bf16(q)), F32(Bf16(k)), F32(Bf16(v)), Tensor(),
                                         want[0], want[1], g, 0.25);
  EXPECT_TRUE(SameBits(q.grad(), gw[0]));
  EXPECT_TRUE(SameBits(k.grad(), gw[1]));
  EXPECT_TRUE(SameBits(v.grad(), gw[2]));
}

TEST(AutocastTest, BadDtypes) {
  std::string m = ErrorOf([] { SetAutocastDtype(DType::kF16); });
  EXPECT_HAS(m, "autocast: the GEMM operand dtype must be f32 (off) or bf16, got f16");
  m = ErrorOf([] { ops::Linear(Zeros({2, 3}, DType::kF64), Zeros({4, 3}, DType::kBF16), Tensor()); });
  EXPECT_HAS(m, "Linear: dtype mismatch, f64 vs bf16 (f64 goes with f64 only; f32 and bf16 mix)");
  m = ErrorOf([] { ops::Matmul(Zeros({2, 3}, DType::kI32), Zeros({3, 4})); });
  EXPECT_HAS(m, "Matmul: expected a of dtype f32, bf16 or f64, got i32");
  m = ErrorOf([] {
    ops::Linear(Zeros({2, 3}, DType::kBF16), Zeros({4, 3}, DType::kBF16), Zeros({4}, DType::kBF16));
  });
  EXPECT_HAS(m, "Linear: expected a bias of dtype f32 on cpu, got bf16 on cpu");
  m = ErrorOf([] { ops::Matmul(Zeros({2, 3}, DType::kF16), Zeros({3, 4})); });
  EXPECT_HAS(m, "Matmul: expected a of dtype f32, bf16 or f64, got f16");
}

}  // namespace
}  // namespace kiln
