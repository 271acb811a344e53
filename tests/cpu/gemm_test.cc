// Tests of kiln's CPU GEMM (cpu/gemm.h): values against a naive f64 reference, and the exactness
// contract: bit-identical to a scalar std::fma chain in k order on every ISA path and thread
// count, and batch invariant (a row computed alone equals the same row inside any larger M).
#include "cpu/gemm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "cpu/isa.h"
#include "tests/testing/isa_threads_fixture.h"

namespace kiln::cpu {
namespace {

struct Shape {
  int64_t m, n, k;
};

// Restores the ISA path and thread count a test changed.
class GemmTest : public kiln::testing::IsaThreadsRestoringTest {};

template <typename T>
std::vector<T> Random(int64_t count, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> dist(-1.0, 1.0);
  std::vector<T> v(count);
  for (auto& x : v) x = static_cast<T>(dist(gen));
  return v;
}

// Operands of one GEMM laid out as the params describe, with padded leading dimensions.
template <typename T>
struct Problem {
  int64_t m, n, k, lda, ldb, ldc;
  bool ta, tb, acc;
  std::vector<T> a, b, c0;

  Problem(Shape s, bool trans_a, bool trans_b, bool accumulate, int64_t pad, uint32_t seed)
      : m(s.m), n(s.n), k(s.k), ta(trans_a), tb(trans_b), acc(accumulate) {
    lda = (ta ? m : k) + pad;
    ldb = (tb ? k : n) + pad;
    ldc = n + pad;
    a = Random<T>((ta ? k : m) * lda + 1, seed);
    b = Random<T>((tb ? n : k) * ldb + 1, seed + 1);
    c0 = Random<T>(m * ldc + 1, seed + 2);
  }
  T A(int64_t i, int64_t kk) const { return ta ? a[kk * lda + i] : a[i * lda + kk]; }
  T B(int64_t kk, int64_t j) const { return tb ? b[j * ldb + kk] : b[kk * ldb + j]; }

  // The contract itself: one fma chain per element, in k order, from 0 or the old C.
  std::vector<T> ExactReference() const {
    std::vector<T> c = c0;
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        T s = acc ? c[i * ldc + j] : T(0);
        for (int64_t kk = 0; kk < k; ++kk) s = std::fma(A(i, kk), B(kk, j), s);
        c[i * ldc + j] = s;
      }
    }
    return c;
  }

  std::vector<T> Run() const {
    std::vector<T> c = c0;
    if constexpr (sizeof(T) == 4) {
      Sgemm({m, n, k, a.data(), lda, ta, b.data(), ldb, tb, c.data(), ldc, acc});
    } else {
      Dgemm({m, n, k, a.data(), lda, ta, b.data(), ldb, tb, c.data(), ldc, acc});
    }
    return c;
  }

  std::string Name() const {
    return "m=" + std::to_string(m) + " n=" + std::to_string(n) + " k=" + std::to_string(k) +
           (ta ? " At" : " A") + (tb ? " Bt" : " B") + (acc ? " acc" : "") +
           " isa=" + IsaName(ActiveIsa()) + " threads=" + std::to_string(kiln::NumThreads());
  }
};

// Checks values against f64 (relative to sum |a||b|, so cancellation does not matter) and that the
// padding between rows of C was left alone.
template <typename T>
void ExpectClose(const Problem<T>& p, const std::vector<T>& got) {
  const double eps = sizeof(T) == 4 ? 1.2e-7 : 2.3e-16;
  int bad = 0;
  for (int64_t i = 0; i < p.m; ++i) {
    for (int64_t j = 0; j < p.ldc && bad < 5; ++j) {
      const T g = got[i * p.ldc + j];
      if (j >= p.n) {
        if (std::memcmp(&g, &p.c0[i * p.ldc + j], sizeof(T)) != 0) {
          ADD_FAILURE() << p.Name() << ": wrote padding at (" << i << "," << j << ")";
          ++bad;
        }
        continue;
      }
      double s = p.acc ? static_cast<double>(p.c0[i * p.ldc + j]) : 0.0;
      double mag = std::fabs(s);
      for (int64_t kk = 0; kk < p.k; ++kk) {
        s += static_cast<double>(p.A(i, kk)) * p.B(kk, j);
        mag += std::fabs(static_cast<double>(p.A(i, kk)) * p.B(kk, j));
      }
      const double tol = 2 * (p.k + 2) * eps * mag + 1e-30;
      if (!(std::fabs(g - s) <= tol)) {
        ADD_FAILURE() << p.Name() << ": C(" << i << "," << j << ") = " << g << ", want " << s
                      << " +- " << tol;
        ++bad;
      }
    }
  }
}

template <typename T>
void ExpectBitEqual(const Problem<T>& p, const std::vector<T>& got, const std::vector<T>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t x = 0; x < got.size(); ++x) {
    if (std::memcmp(&got[x], &want[x], sizeof(T)) != 0) {
      FAIL() << p.Name() << ": not bit-identical at row " << x / p.ldc << " col " << x % p.ldc
             << ": " << got[x] << " vs " << want[x];
    }
  }
}

// Small shapes: 1, primes, and non-multiples of every register tile (6x16, 14x32, 4x8...).
const Shape kSmallShapes[] = {{1, 1, 1},    {1, 7, 13},   {7, 1, 13},   {13, 37, 1},
                              {2, 3, 5},    {15, 33, 17}, {14, 32, 16}, {29, 65, 31},
                              {37, 61, 13}, {6, 16, 8},   {61, 13, 37}, {17, 100, 9}};
// Shapes that cross the cache blocks (k over kc, m over mc, n over nc), big enough that the
// kernels really use several threads (problems under ~2 MFLOP run on one).
const Shape kLargeShapes[] = {{67, 45, 600},  {451, 47, 61},  {3, 4700, 7},
                              {40, 100, 290}, {20, 3100, 19}, {9, 1200, 100}};

template <typename T>
void SweepAllPathsAndThreads(const Shape* shapes, int count, bool all_trans) {
  int seed = 1;
  for (int s = 0; s < count; ++s) {
    for (int t = 0; t < 4; ++t) {
      if (!all_trans && t == 1) continue;
      for (bool acc : {false, true}) {
        if (!all_trans && acc != (t == 3)) continue;
        Problem<T> p(shapes[s], t & 1, t & 2, acc, /*pad=*/(s % 3) * 3, seed++);
        const std::vector<T> want = p.ExactReference();
        ExpectClose(p, want);
        for (Isa isa : AvailableIsas()) {
          SetIsa(isa);
          for (int threads : {1, 2, 3}) {
            kiln::SetNumThreads(threads);
            ExpectBitEqual(p, p.Run(), want);
            if (::testing::Test::HasFatalFailure()) return;
          }
        }
      }
    }
  }
}

TEST_F(GemmTest, SgemmSmallShapesAllTransAllPathsExact) {
  SweepAllPathsAndThreads<float>(kSmallShapes, std::size(kSmallShapes), true);
}

TEST_F(GemmTest, SgemmLargeShapesAllPathsExact) {
  SweepAllPathsAndThreads<float>(kLargeShapes, std::size(kLargeShapes), false);
}

TEST_F(GemmTest, DgemmSmallShapesAllTransAllPathsExact) {
  SweepAllPathsAndThreads<double>(kSmallShapes, std::size(kSmallShapes), true);
}

TEST_F(GemmTest, DgemmLargeShapesAllPathsExact) {
  SweepAllPathsAndThreads<double>(kLargeShapes, 3, false);
}

// Random mid-size shapes with odd k, big enough for several threads: catches per-thread buffer
// layouts that only go wrong for some (kc, nc, mc) combinations.
template <typename T>
void RandomThreadedShapes(uint32_t seed) {
  std::mt19937 gen(seed);
  std::vector<Shape> shapes;
  for (int i = 0; i < 4; ++i) {
    shapes.push_back({90 + static_cast<int64_t>(gen() % 60), 90 + static_cast<int64_t>(gen() % 60),
                      151 + 2 * static_cast<int64_t>(gen() % 90)});
  }
  SweepAllPathsAndThreads<T>(shapes.data(), static_cast<int>(shapes.size()), false);
}

TEST_F(GemmTest, SgemmRandomThreadedShapesExact) { RandomThreadedShapes<float>(5); }
TEST_F(GemmTest, DgemmRandomThreadedShapesExact) { RandomThreadedShapes<double>(6); }

// The value check on its own, at the default path and threads, so a wrong reference cannot hide
// a wrong kernel.
TEST_F(GemmTest, SgemmMatchesF64Reference) {
  for (Shape s : {Shape{64, 96, 200}, Shape{5, 300, 33}}) {
    for (int t = 0; t < 4; ++t) {
      Problem<float> p(s, t & 1, t & 2, t == 2, 5, 100 + t);
      ExpectClose(p, p.Run());
    }
  }
}

TEST_F(GemmTest, KZeroGivesZeroOrKeepsC) {
  Problem<float> p({5, 7, 0}, false, false, false, 1, 7);
  std::vector<float> c = p.Run();
  for (int64_t i = 0; i < p.m; ++i) {
    for (int64_t j = 0; j < p.n; ++j) EXPECT_EQ(c[i * p.ldc + j], 0.0f);
  }
  p.acc = true;
  c = p.Run();
  EXPECT_EQ(0, std::memcmp(c.data(), p.c0.data(), c.size() * sizeof(float)));
}

// Row i alone (m=1 at a pointer offset) equals row i inside a larger M, wherever the row falls in
// the register tiles (first, last, edge tile) and across trans_a.
TEST_F(GemmTest, SgemmBatchInvariance) {
  const int64_t n = 77, k = 300;
  for (bool ta : {false, true}) {
    for (int64_t m : {2, 5, 6, 7, 14, 15, 29, 45, 97}) {
      Problem<float> p({m, n, k}, ta, false, false, 3, 11 + m);
      const std::vector<float> full = p.Run();
      for (int64_t i : {int64_t{0}, m / 2, m - 1}) {
        std::vector<float> row(n);
        const float* a = ta ? p.a.data() + i : p.a.data() + i * p.lda;
        Sgemm({1, n, k, a, p.lda, ta, p.b.data(), p.ldb, false, row.data(), n, false});
        EXPECT_EQ(0, std::memcmp(row.data(), full.data() + i * p.ldc, n * sizeof(float)))
            << "row " << i << " of m=" << m << (ta ? " At" : "");
        // A few rows together at an offset land in different tile positions too.
        const int64_t rows = std::min<int64_t>(3, m - i);
        std::vector<float> part(rows * n);
        Sgemm({rows, n, k, a, p.lda, ta, p.b.data(), p.ldb, false, part.data(), n, false});
        for (int64_t r = 0; r < rows; ++r) {
          EXPECT_EQ(
              0, std::memcmp(part.data() + r * n, full.data() + (i + r) * p.ldc, n * sizeof(float)))
              << "rows " << i << "+" << r << " of m=" << m;
        }
      }
    }
  }
}

}  // namespace
}  // namespace kiln::cpu
