// Batch invariance (docs/exactness.md): a row's bits do not depend on what else is in the batch.
//  - Matmul: row i of A @ B equals the same row computed alone (M = 1) or inside any larger M, on
//    every ISA path and thread count.
//  - Attention: query t decoded alone against its key prefix (Tq = 1, the KV-cache case) equals
//    row t of the full causal pass; a packed document equals the same document run alone; batch
//    element b equals the same sequence at B = 1.
#include <gtest/gtest.h>

#include <cstring>

#include "autograd/api.h"
#include "base/thread_pool.h"
#include "cpu/isa.h"

namespace kiln {
namespace {

bool SameBits(const Tensor& a, const Tensor& b) {
  Tensor ca = ops::Contiguous(a), cb = ops::Contiguous(b);
  return ca.shape() == cb.shape() &&
         std::memcmp(ca.raw_data(), cb.raw_data(), ca.numel() * DTypeSize(ca.dtype())) == 0;
}

template <typename Fn>
void ForEachConfig(Fn&& fn) {
  int saved_threads = kiln::NumThreads();
  cpu::Isa saved = cpu::ActiveIsa();
  for (cpu::Isa isa : cpu::AvailableIsas()) {
    for (int threads : {1, 2, 3}) {
      cpu::SetIsa(isa);
      kiln::SetNumThreads(threads);
      SCOPED_TRACE(std::string(cpu::IsaName(isa)) + "/" + std::to_string(threads) + " threads");
      fn();
    }
  }
  cpu::SetIsa(saved);
  kiln::SetNumThreads(saved_threads);
}

TEST(BatchInvariance, MatmulRowAloneEqualsRowInBatch) {
  Tensor b = Randn({300, 129}, 2);
  Tensor bt = ops::Contiguous(ops::Transpose(b, 0, 1));  // (129, 300) for the trans_b form
  ForEachConfig([&] {
    for (int64_t m : {1, 2, 5, 16, 17, 33, 100}) {
      // Rows identical across m: every a is a prefix of one (100, 300) pool.
      Tensor pool = Randn({100, 300}, 1);
      Tensor a = ops::Narrow(pool, 0, 0, m);
      Tensor full = ops::Matmul(a, b);
      Tensor full_t = ops::Matmul(a, bt, false, true);
      for (int64_t i : {int64_t{0}, m / 2, m - 1}) {
        Tensor alone = ops::Matmul(ops::Narrow(pool, 0, i, 1), b);
        EXPECT_TRUE(SameBits(alone, ops::Narrow(full, 0, i, 1))) << "m=" << m << " row " << i;
        EXPECT_TRUE(SameBits(ops::Narrow(full_t, 0, i, 1), ops::Narrow(full, 0, i, 1)))
            << "trans_b form differs, m=" << m << " row " << i;
      }
    }
    // Batched 3-D input with a shared weight: a row equals the same row in a 2-D call.
    Tensor x = Randn({3, 7, 300}, 3);
    Tensor y = ops::Matmul(x, b);
    Tensor row = ops::Matmul(ops::Narrow(ops::Narrow(x, 0, 2, 1), 1, 4, 1), b);
    EXPECT_TRUE(SameBits(ops::Reshape(row, {1, 129}),
                         ops::Reshape(ops::Narrow(ops::Narrow(y, 0, 2, 1), 1, 4, 1), {1, 129})));
  });
}

TEST(BatchInvariance, DecodedQueryEqualsFullPass) {
  const int64_t T = 150, NH = 4, NKV = 2, HS = 16;
  Tensor q = Randn({1, NH, T, HS}, 10), k = Randn({1, NKV, T, HS}, 11), v = Randn({1, NKV, T, HS}, 12);
  ForEachConfig([&] {
    Tensor full = ops::Attention(q, k, v, Tensor(), -1)[0];
    for (int64_t t : {int64_t{0}, int64_t{1}, int64_t{63}, int64_t{64}, int64_t{65}, T - 1}) {
      Tensor qt = ops::Narrow(q, 2, t, 1);
      Tensor kp = ops::Narrow(k, 2, 0, t + 1), vp = ops::Narrow(v, 2, 0, t + 1);
      Tensor dec = ops::Attention(qt, kp, vp, Tensor(), -1)[0];
      EXPECT_TRUE(SameBits(dec, ops::Narrow(full, 2, t, 1))) << "query " << t;
      // A chunk of queries against the prefix (prefill of a continuation) agrees too.
      if (t >= 3) {
        Tensor q3 = ops::Narrow(q, 2, t - 2, 3);
        Tensor part = ops::Attention(q3, kp, vp, Tensor(), -1)[0];
        EXPECT_TRUE(SameBits(part, ops::Narrow(full, 2, t - 2, 3))) << "queries " << t - 2 << ".." << t;
      }
    }
  });
}

TEST(BatchInvariance, PackedDocumentEqualsDocumentAlone) {
  const int64_t NH = 2, HS = 8;
  // Three documents of lengths 37, 70, 23 packed into one row of 130 tokens.
  const int64_t lens[] = {37, 70, 23};
  const int64_t T = 130;
  std::vector<int32_t> ids;
  for (int d = 0; d < 3; ++d) ids.insert(ids.end(), lens[d], d);
  Tensor doc = FromVector<int32_t>(ids, {1, T});
  Tensor q = Randn({1, NH, T, HS}, 20), k = Randn({1, NH, T, HS}, 21), v = Randn({1, NH, T, HS}, 22);
  ForEachConfig([&] {
    Tensor packed = ops::Attention(q, k, v, doc, -1)[0];
    int64_t start = 0;
    for (int d = 0; d < 3; ++d) {
      Tensor qd = ops::Narrow(q, 2, start, lens[d]), kd = ops::Narrow(k, 2, start, lens[d]),
             vd = ops::Narrow(v, 2, start, lens[d]);
      Tensor alone = ops::Attention(qd, kd, vd, Tensor(), -1)[0];
      EXPECT_TRUE(SameBits(alone, ops::Narrow(packed, 2, start, lens[d]))) << "document " << d;
      start += lens[d];
    }
  });
}

TEST(BatchInvariance, BatchElementEqualsSequenceAlone) {
  Tensor q = Randn({3, 2, 40, 8}, 30), k = Randn({3, 2, 40, 8}, 31), v = Randn({3, 2, 40, 8}, 32);
  Tensor full = ops::Attention(q, k, v, Tensor(), -1)[0];
  for (int64_t b = 0; b < 3; ++b) {
    Tensor alone = ops::Attention(ops::Narrow(q, 0, b, 1), ops::Narrow(k, 0, b, 1),
                                  ops::Narrow(v, 0, b, 1), Tensor(), -1)[0];
    EXPECT_TRUE(SameBits(alone, ops::Narrow(full, 0, b, 1))) << "batch element " << b;
  }
}

}  // namespace
}  // namespace kiln
