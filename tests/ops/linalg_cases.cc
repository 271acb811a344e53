// Op cases for Matmul, Linear (bias folded into the GEMM; BiasGrad) and the fused Attention (its backward row covered by the gradcheck).
#include <cmath>

#include "tests/ops/op_case.h"
#include "tests/reference/linalg.h"
#include "tests/reference/reference.h"

namespace kiln::testing {
namespace {

OpCase MatmulCase(std::string name, Shape as, Shape bs, bool ta, bool tb, bool transposed_view,
                  uint64_t seed) {
  return OpCase{
      .name = "Matmul/" + name,
      .covers = {Op::kMatmul},
      .make_inputs =
          [=] {
            Tensor a = RandnF64(as, seed), b = RandnF64(bs, seed + 1);
            // A transposed view of a contiguous tensor exercises the layout canonicalization.
            if (transposed_view) a = ops::Transpose(ops::Contiguous(ops::Transpose(a, -1, -2)), -1, -2);
            return std::vector<Tensor>{a, b};
          },
      .run = [=](const std::vector<Tensor>& x) { return Matmul(x[0], x[1], ta, tb); },
      .reference =
          [=](const std::vector<Tensor>& x) { return reference::Matmul(x[0], x[1], ta, tb); },
      .atol = 1e-4,
  };
}

// Linear: x weight^T + bias against the naive matmul plus a broadcast bias; 130 rows cross the
// BiasGrad row chunks.
OpCase LinearCase(std::string name, int64_t n, int64_t k, int64_t m, bool bias, uint64_t seed) {
  return OpCase{
      .name = "Linear/" + name,
      .covers = {Op::kLinear, Op::kBiasGrad},
      .make_inputs =
          [=] {
            std::vector<Tensor> in = {RandnF64({n, k}, seed), RandnF64({m, k}, seed + 1)};
            if (bias) in.push_back(RandnF64({m}, seed + 2));
            return in;
          },
      .run = [=](const std::vector<Tensor>& x) {
        return Linear(x[0], x[1], bias ? x[2] : Tensor());
      },
      .reference =
          [=](const std::vector<Tensor>& x) {
            Tensor y = reference::Matmul(x[0], x[1], false, true);
            if (!bias) return y;
            std::vector<double> v = y.ToVector<double>(), b = x[2].ToVector<double>();
            return TensorFromFn(y.shape(), [&](int64_t i) { return v[i] + b[i % m]; });
          },
      .atol = 1e-4,
  };
}

Tensor Doc(const std::vector<int64_t>& ids, int64_t b) {
  std::vector<int64_t> all;
  for (int64_t i = 0; i < b; ++i) all.insert(all.end(), ids.begin(), ids.end());
  return FromVector<int64_t>(all, {b, static_cast<int64_t>(ids.size())});
}

OpCase AttentionCase(std::string name, int64_t b, int64_t nh, int64_t nkv, int64_t tq, int64_t tk,
                     int64_t hs, std::vector<int64_t> doc, bool bthd_layout, uint64_t seed) {
  return OpCase{
      .name = "Attention/" + name,
      .covers = {Op::kAttention, Op::kAttentionBackward},
      .make_inputs =
          [=] {
            Tensor q = RandnF64({b, nh, tq, hs}, seed), k = RandnF64({b, nkv, tk, hs}, seed + 1),
                   v = RandnF64({b, nkv, tk, hs}, seed + 2);
            if (bthd_layout) {  // (B, T, NH, HS) storage viewed as (B, NH, T, HS)
              q = ops::Transpose(ops::Contiguous(ops::Transpose(q, 1, 2)), 1, 2);
              k = ops::Transpose(ops::Contiguous(ops::Transpose(k, 1, 2)), 1, 2);
              v = ops::Transpose(ops::Contiguous(ops::Transpose(v, 1, 2)), 1, 2);
            }
            return std::vector<Tensor>{q, k, v, doc.empty() ? Tensor() : Doc(doc, b)};
          },
      .run = [](const std::vector<Tensor>& x) { return Attention(x[0], x[1], x[2], x[3]); },
      .reference =
          [=](const std::vector<Tensor>& x) {
            return reference::Attention(x[0], x[1], x[2], x[3], 1.0 / std::sqrt(double(hs)));
          },
      .atol = 1e-5,
      .grad_inputs = {0, 1, 2},
  };
}

}  // namespace

KILN_OP_CASES(LinalgCases) {
  return {
      LinearCase("bias", 6, 11, 5, true, 30),
      LinearCase("no_bias", 4, 9, 3, false, 31),
      LinearCase("bias_many_rows", 130, 3, 2, true, 32),
      MatmulCase("square_prime", {13, 13}, {13, 13}, false, false, false, 11),
      MatmulCase("odd_shapes", {7, 37}, {37, 5}, false, false, false, 12),
      MatmulCase("trans_a", {37, 7}, {37, 5}, true, false, false, 13),
      MatmulCase("trans_b", {7, 37}, {5, 37}, false, true, false, 14),
      MatmulCase("trans_both", {37, 7}, {5, 37}, true, true, false, 15),
      MatmulCase("vector_row", {1, 17}, {17, 33}, false, false, false, 16),
      MatmulCase("batched", {2, 3, 9, 6}, {2, 3, 6, 5}, false, false, false, 17),
      MatmulCase("shared_weight", {2, 5, 19}, {19, 23}, false, false, false, 18),
      MatmulCase("shared_weight_trans", {2, 5, 19}, {23, 19}, false, true, false, 19),
      MatmulCase("transposed_view", {2, 6, 11}, {11, 4}, false, false, true, 20),
      MatmulCase("batched_trans_a", {3, 8, 5}, {3, 8, 4}, true, false, false, 21),
      AttentionCase("mha", 1, 2, 2, 7, 7, 5, {}, false, 31),
      AttentionCase("gqa_batch", 2, 4, 2, 9, 9, 8, {}, false, 32),
      AttentionCase("kv_offset", 1, 2, 1, 3, 11, 4, {}, false, 33),
      AttentionCase("packed_docs", 2, 2, 2, 10, 10, 3, {0, 0, 0, 1, 1, 2, 3, 3, 3, 3}, false, 34),
      AttentionCase("bthd_layout_long", 1, 2, 1, 70, 70, 4, {}, true, 35),
      AttentionCase("single_query", 1, 1, 1, 1, 1, 1, {}, false, 36),
  };
}

}  // namespace kiln::testing
