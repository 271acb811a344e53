// The row-major -> column-major mapping of the cuBLAS GEMM paths (cuda/runtime/gemm_plan.h),
// checked on the CPU without a GPU: every Matmul form the op layer sends (transposes, batched a
// and b, a batch sharing a 2-D b, Linear's x W^T) is run through a reference column-major BLAS
// GEMM with the planned arguments, batch by batch as cublasSgemmStridedBatched would, and must
// give the row-major product. Small integer values keep every sum exact, so the check is bitwise.
#include "cuda/runtime/gemm_plan.h"

#include <gtest/gtest.h>

#include <vector>

namespace kiln::cuda {
namespace {

// BLAS sgemm semantics, column-major: c (m, n) = op(x) (m, k) op(y) (k, n).
void ReferenceSgemm(bool trans_x, bool trans_y, int64_t m, int64_t n, int64_t k, const float* x,
                    int64_t ldx, const float* y, int64_t ldy, float* c, int64_t ldc) {
  for (int64_t j = 0; j < n; ++j) {
    for (int64_t i = 0; i < m; ++i) {
      double sum = 0;
      for (int64_t l = 0; l < k; ++l) {
        const float xv = trans_x ? x[l + i * ldx] : x[i + l * ldx];
        const float yv = trans_y ? y[j + l * ldy] : y[l + j * ldy];
        sum += static_cast<double>(xv) * yv;
      }
      c[i + j * ldc] = static_cast<float>(sum);
    }
  }
}

// What CublasGemm does with a shape: one planned call per matrix of the batch.
void RunPlanned(const GemmShape& s, const float* a, const float* b, float* c) {
  const ColumnMajorGemm p = PlanColumnMajor(s.m, s.n, s.k, s.trans_a, s.trans_b);
  ASSERT_GE(p.ld_first, p.first_rows);
  ASSERT_GE(p.ld_second, p.second_rows);
  ASSERT_GE(p.ld_c, p.m);
  // op(first) must be (m, k) and op(second) (k, n).
  EXPECT_EQ(p.trans_first ? p.first_cols : p.first_rows, p.m);
  EXPECT_EQ(p.trans_first ? p.first_rows : p.first_cols, p.k);
  EXPECT_EQ(p.trans_second ? p.second_cols : p.second_rows, p.k);
  EXPECT_EQ(p.trans_second ? p.second_rows : p.second_cols, p.n);
  for (int64_t i = 0; i < s.batch; ++i) {
    ReferenceSgemm(p.trans_first, p.trans_second, p.m, p.n, p.k, b + i * s.stride_b, p.ld_first,
                   a + i * s.stride_a, p.ld_second, c + i * s.stride_c, p.ld_c);
  }
}

std::vector<float> SmallInts(int64_t n, int seed) {
  std::vector<float> v(n);
  for (int64_t i = 0; i < n; ++i) v[i] = static_cast<float>((i * 7 + seed * 13) % 9 - 4);
  return v;
}

KArray Dense(std::vector<int64_t> sizes) {
  KArray a;
  a.dtype = DType::kF32;
  a.ndim = static_cast<int32_t>(sizes.size());
  int64_t stride = 1;
  for (int d = a.ndim - 1; d >= 0; --d) {
    a.sizes[d] = sizes[d];
    a.strides[d] = stride;
    stride *= sizes[d];
  }
  return a;
}

struct Form {
  int64_t batch, m, n, k;
  bool ta, tb, b_batched;
};

// The row-major product straight from the definition, for every matrix of the batch.
std::vector<float> Expected(const Form& f, const std::vector<float>& a,
                            const std::vector<float>& b) {
  std::vector<float> c(f.batch * f.m * f.n);
  for (int64_t z = 0; z < f.batch; ++z) {
    const float* az = a.data() + z * f.m * f.k;
    const float* bz = b.data() + (f.b_batched ? z * f.k * f.n : 0);
    for (int64_t i = 0; i < f.m; ++i) {
      for (int64_t j = 0; j < f.n; ++j) {
        double sum = 0;
        for (int64_t l = 0; l < f.k; ++l) {
          const float av = f.ta ? az[l * f.m + i] : az[i * f.k + l];
          const float bv = f.tb ? bz[j * f.k + l] : bz[l * f.n + j];
          sum += static_cast<double>(av) * bv;
        }
        c[(z * f.m + i) * f.n + j] = static_cast<float>(sum);
      }
    }
  }
  return c;
}

TEST(GemmPlan, EveryMatmulFormGivesTheRowMajorProduct) {
  std::vector<Form> forms;
  for (bool ta : {false, true}) {
    for (bool tb : {false, true}) {
      forms.push_back({1, 5, 3, 4, ta, tb, false});    // 2-D
      forms.push_back({1, 1, 7, 6, ta, tb, false});    // one row (decoding)
      forms.push_back({1, 6, 1, 2, ta, tb, false});    // one column
      forms.push_back({3, 4, 5, 6, ta, tb, true});     // batched a and b (attention-like)
      forms.push_back({4, 3, 2, 5, ta, tb, false});    // a batch sharing a 2-D b
    }
  }
  for (const Form& f : forms) {
    SCOPED_TRACE(::testing::Message() << "batch " << f.batch << " m " << f.m << " n " << f.n
                                      << " k " << f.k << " ta " << f.ta << " tb " << f.tb
                                      << " b batched " << f.b_batched);
    const std::vector<float> a = SmallInts(f.batch * f.m * f.k, 1);
    const std::vector<float> b = SmallInts((f.b_batched ? f.batch : 1) * f.k * f.n, 2);
    std::vector<int64_t> a_sizes = {f.ta ? f.k : f.m, f.ta ? f.m : f.k};
    std::vector<int64_t> b_sizes = {f.tb ? f.n : f.k, f.tb ? f.k : f.n};
    std::vector<int64_t> c_sizes = {f.m, f.n};
    const bool batched = f.batch > 1 || f.b_batched;
    if (batched) {
      a_sizes.insert(a_sizes.begin(), f.batch);
      c_sizes.insert(c_sizes.begin(), f.batch);
      if (f.b_batched) b_sizes.insert(b_sizes.begin(), f.batch);
    }
    const GemmShape s = MatmulShape(Dense(a_sizes), Dense(b_sizes), Dense(c_sizes), f.ta, f.tb,
                                    batched ? 1 : 0);
    if (f.batch > 1 && !f.b_batched && !f.ta) {  // folded into one GEMM over every row
      EXPECT_EQ(s.batch, 1);
      EXPECT_EQ(s.m, f.batch * f.m);
    } else {
      EXPECT_EQ(s.batch, f.batch);
    }
    std::vector<float> c(f.batch * f.m * f.n, -99.0f);
    RunPlanned(s, a.data(), b.data(), c.data());
    EXPECT_EQ(c, Expected(f, a, b));
  }
}

TEST(GemmPlan, LinearIsXTimesWTransposed) {
  // Linear: y (N, M) = x (N, K) w (M, K)^T, the shape RunLinearSwitch builds.
  const int64_t n = 5, m = 3, k = 4;
  GemmShape s;
  s.m = n;
  s.n = m;
  s.k = k;
  s.trans_b = true;
  const std::vector<float> x = SmallInts(n * k, 3), w = SmallInts(m * k, 4);
  std::vector<float> y(n * m);
  RunPlanned(s, x.data(), w.data(), y.data());
  EXPECT_EQ(y, Expected({1, n, m, k, false, true, false}, x, w));
}

TEST(GemmPlan, AddressAlignment) {
  alignas(256) static float buf[128];
  EXPECT_EQ(AddressAlignment(buf), 256u);
  EXPECT_EQ(AddressAlignment(buf + 1), 4u);
  EXPECT_EQ(AddressAlignment(buf + 2), 8u);
  EXPECT_EQ(AddressAlignment(buf + 4), 16u);
  EXPECT_EQ(AddressAlignment(buf + 64), 256u);
  EXPECT_EQ(AddressAlignment(reinterpret_cast<const char*>(buf) + 1), 1u);
}

}  // namespace
}  // namespace kiln::cuda
