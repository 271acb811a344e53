// kiln's own math functions against the C library, in ulps (float) and relative error (double).
#include "base/kmath.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>

namespace kiln::kmath {
namespace {

int64_t UlpDiff(float a, float b) {
  int32_t ia, ib;
  std::memcpy(&ia, &a, 4);
  std::memcpy(&ib, &b, 4);
  if (ia < 0) ia = INT32_MIN - ia;
  if (ib < 0) ib = INT32_MIN - ib;
  return std::llabs(static_cast<int64_t>(ia) - ib);
}

template <typename F, typename G>
void CheckFloat(F mine, G ref, float lo, float hi, int64_t max_ulps) {
  int64_t worst = 0;
  float worst_x = 0;
  for (int i = 0; i <= 200000; ++i) {
    float x = lo + (hi - lo) * static_cast<float>(i) / 200000.0f;
    float r = static_cast<float>(ref(static_cast<double>(x)));
    int64_t d = UlpDiff(mine(x), r);
    if (d > worst) {
      worst = d;
      worst_x = x;
    }
  }
  EXPECT_LE(worst, max_ulps) << "at x=" << worst_x;
}

template <typename F, typename G>
void CheckDouble(F mine, G ref, double lo, double hi, double max_rel) {
  double worst = 0;
  for (int i = 0; i <= 200000; ++i) {
    double x = lo + (hi - lo) * i / 200000.0;
    double r = ref(x), m = mine(x);
    double rel = std::fabs(m - r) / std::max(std::fabs(r), 1e-300);
    worst = std::max(worst, rel);
  }
  EXPECT_LE(worst, max_rel);
}

TEST(KmathTest, ExpFloat) {
  CheckFloat([](float x) { return Exp(x); }, [](double x) { return std::exp(x); }, -87.f, 88.f, 2);
  EXPECT_EQ(Exp(100.f), INFINITY);
  EXPECT_EQ(Exp(-200.f), 0.f);
  EXPECT_TRUE(std::isnan(Exp(NAN)));
  EXPECT_EQ(Exp(0.f), 1.f);
}
TEST(KmathTest, ExpDouble) {
  CheckDouble([](double x) { return Exp(x); }, [](double x) { return std::exp(x); }, -700, 700,
              4e-16);
}
TEST(KmathTest, LogFloat) {
  CheckFloat([](float x) { return Log(x); }, [](double x) { return std::log(x); }, 1e-30f, 1e4f, 2);
  CheckFloat([](float x) { return Log(x); }, [](double x) { return std::log(x); }, 0.5f, 2.f, 2);
  EXPECT_EQ(Log(0.f), -INFINITY);
  EXPECT_TRUE(std::isnan(Log(-1.f)));
  EXPECT_NEAR(Log(1e-40f), std::log(1e-40), 1e-5);  // subnormal input
}
TEST(KmathTest, LogDouble) {
  CheckDouble([](double x) { return Log(x); }, [](double x) { return std::log(x); }, 1e-3, 1e3,
              4e-16);
  CheckDouble([](double x) { return Log(x); }, [](double x) { return std::log(x); }, 0.9, 1.1,
              1e-15);
}
TEST(KmathTest, TanhFloat) {
  CheckFloat([](float x) { return Tanh(x); }, [](double x) { return std::tanh(x); }, -10.f, 10.f, 3);
  CheckFloat([](float x) { return Tanh(x); }, [](double x) { return std::tanh(x); }, -0.01f, 0.01f,
             3);
}
TEST(KmathTest, TanhDouble) {
  CheckDouble([](double x) { return Tanh(x); }, [](double x) { return std::tanh(x); }, -20, 20,
              1e-15);
}
TEST(KmathTest, SinCosDouble) {
  double worst = 0;
  for (int i = 0; i <= 100000; ++i) {
    double x = -1e4 + 2e4 * i / 100000.0;
    worst = std::max(worst, std::fabs(Sin(x) - std::sin(x)));
    worst = std::max(worst, std::fabs(Cos(x) - std::cos(x)));
  }
  EXPECT_LE(worst, 1e-15);
}

}  // namespace
}  // namespace kiln::kmath
