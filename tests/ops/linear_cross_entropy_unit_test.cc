// LinearCrossEntropy (the LM head fused with cross-entropy) against the unfused path
// CrossEntropy(Matmul(h, W^T)): with one vocab chunk (V <= 4096) the loss and both gradients are
// bitwise those of the unfused path; with several chunks (online log-sum-exp) the gradients of the
// recomputed tiles still accumulate in the unfused GEMM's order and match within rounding. A row's
// loss does not depend on the other rows of the batch.
#include <gtest/gtest.h>

#include <cstring>

#include "autograd/api.h"
#include "autograd/engine.h"

namespace kiln {
namespace {

bool SameBits(const Tensor& a, const Tensor& b) {
  Tensor ca = ops::Contiguous(a), cb = ops::Contiguous(b);
  return ca.shape() == cb.shape() &&
         std::memcmp(ca.raw_data(), cb.raw_data(), ca.numel() * DTypeSize(ca.dtype())) == 0;
}

double MaxAbsDiff(const Tensor& a, const Tensor& b) {
  std::vector<double> x = a.ToVector<double>(), y = b.ToVector<double>();
  double m = 0;
  for (size_t i = 0; i < x.size(); ++i) m = std::max(m, std::abs(x[i] - y[i]));
  return m;
}

struct Result {
  Tensor loss, gh, gw;
};

Tensor Targets(int64_t n, int64_t v) {
  std::vector<int64_t> t(n);
  for (int64_t i = 0; i < n; ++i) t[i] = (i * 7919 + 13) % v;
  t[n / 3] = -100;
  return FromVector<int64_t>(t, {n});
}

Result RunLce(bool fused, int64_t n, int64_t c, int64_t v, uint64_t seed, double ls) {
  Tensor h = Randn({n, c}, seed), w = MulScalar(Randn({v, c}, seed + 1), 2.0);
  h.set_requires_grad(true);
  w.set_requires_grad(true);
  Tensor t = Targets(n, v);
  Tensor loss = fused ? LinearCrossEntropy(h, w, t, -100, ls)
                      : CrossEntropy(Matmul(h, w, false, true), t, -100, ls);
  Backward(Sum(loss));
  return {loss, h.grad(), w.grad()};
}

TEST(LinearCrossEntropy, OneVocabChunkIsBitwiseUnfused) {
  for (double ls : {0.0, 0.1}) {
    Result a = RunLce(true, 70, 24, 3000, 5, ls), b = RunLce(false, 70, 24, 3000, 5, ls);
    EXPECT_TRUE(SameBits(a.loss, b.loss)) << ls;
    EXPECT_TRUE(SameBits(a.gh, b.gh)) << ls;
    EXPECT_TRUE(SameBits(a.gw, b.gw)) << ls;
  }
}

TEST(LinearCrossEntropy, VocabChunksMatchUnfused) {
  // 9000 entries: three chunks; 300 rows at C = 8 cross a row block as well.
  Result a = RunLce(true, 300, 8, 9000, 7, 0.05), b = RunLce(false, 300, 8, 9000, 7, 0.05);
  EXPECT_LT(MaxAbsDiff(a.loss, b.loss), 1e-4);
  EXPECT_LT(MaxAbsDiff(a.gh, b.gh), 1e-5);
  EXPECT_LT(MaxAbsDiff(a.gw, b.gw), 1e-5);
}

TEST(LinearCrossEntropy, RowLossIndependentOfBatch) {
  const int64_t n = 40, c = 16, v = 5000;
  Tensor h = Randn({n, c}, 11), w = Randn({v, c}, 12), t = Targets(n, v);
  Tensor all = ops::LinearCrossEntropy(h, w, t, -100, 0.0)[0];
  for (int64_t i : {0, 17, 39}) {
    Tensor one = ops::LinearCrossEntropy(ops::Narrow(h, 0, i, 1), w, ops::Narrow(t, 0, i, 1), -100,
                                         0.0)[0];
    EXPECT_TRUE(SameBits(one, ops::Narrow(all, 0, i, 1))) << "row " << i;
  }
}

TEST(LinearCrossEntropy, BadInputsAreErrors) {
  Tensor h = Zeros({3, 4}), w = Zeros({5, 4});
  auto message = [](auto&& fn) {
    try {
      fn();
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([&] { LinearCrossEntropy(h, Zeros({5, 3}), FromVector<int64_t>({0, 1, 2}, {3})); })
                .find("LinearCrossEntropy: expected a weight of shape (V, 4)"),
            std::string::npos);
  EXPECT_NE(message([&] { LinearCrossEntropy(h, w, FromVector<int64_t>({0, 5, 2}, {3})); })
                .find("LinearCrossEntropy: target 5 at row 1 is outside [0, 5)"),
            std::string::npos);
  EXPECT_NE(message([&] { LinearCrossEntropy(h, w, FromVector<int64_t>({0, 1}, {2})); })
                .find("LinearCrossEntropy: expected targets of shape (3,)"),
            std::string::npos);
  EXPECT_NE(message([&] { LinearCrossEntropy(Zeros({3}), w, FromVector<int64_t>({0}, {1})); })
                .find("LinearCrossEntropy: expected hidden of shape (N, C)"),
            std::string::npos);
}

}  // namespace
}  // namespace kiln
