// Op cases for the transformer-layer rows of the reduction family: LayerNorm (+ backward),
// RmsNorm (+ backward), Rope (packed positions, i32 / i64, strided views, large angles),
// CrossEntropy (+ backward; ignore_index rows, label smoothing), LinearCrossEntropy (the LM head
// fused with it: vocab chunks, row blocks) and AdamW (several steps against a reference loop).
// Row counts above 64 cross the fixed row chunks of the weight gradients.
#include <cmath>

#include "tests/ops/op_case.h"
#include "tests/reference/layers.h"
#include "tests/reference/reference.h"

namespace kiln::testing {
namespace {

using Inputs = std::vector<Tensor>;

Tensor Ids(const std::vector<int64_t>& v, const Shape& shape, DType dtype) {
  return FromVector<int64_t>(v, shape, dtype);
}

Tensor Clone(const Tensor& t) {
  Tensor c = Tensor::Empty(t.shape(), t.dtype());
  c.CopyFrom_(t);
  return c;
}

// Naive f64 helpers for the fused cases.
Tensor RefAdd(const Tensor& a, const Tensor& b) {
  std::vector<double> x = a.ToVector<double>(), y = b.ToVector<double>();
  return TensorFromFn(a.shape(), [&](int64_t i) { return x[i] + y[i]; });
}

// Two outputs as one tensor (so one case checks and gradchecks both): the differentiable form and
// the plain one for references.
Tensor Both(const Tensor& a, const Tensor& b) {
  return Concat({Reshape(a, {a.numel()}), Reshape(b, {b.numel()})}, 0);
}
Tensor RefBoth(const Tensor& a, const Tensor& b) {
  return ops::Concat({ops::Reshape(a, {a.numel()}), ops::Reshape(b, {b.numel()})}, 0);
}

}  // namespace

KILN_OP_CASES(LayerCases) {
  std::vector<OpCase> cases;
  const std::vector<Op> ln = {Op::kLayerNorm, Op::kLayerNormBackward};
  const std::vector<Op> rms = {Op::kRmsNorm, Op::kRmsNormBackward};

  // ---- LayerNorm: weight and bias around 1 and 0 (not exactly: that would hide their grads).
  cases.push_back(MakeCase(
      "LayerNorm/3d_prime", ln,
      [] {
        return Inputs{RandnF64({2, 3, 37}, 400), RandF64({37}, 401, 0.5, 1.5), RandnF64({37}, 402)};
      },
      [](const Inputs& x) { return LayerNorm(x[0], x[1], x[2], 1e-5); },
      [](const Inputs& x) { return reference::LayerNorm(x[0], x[1], x[2], 1e-5); }));
  cases.push_back(MakeCase(
      "LayerNorm/noncontig_no_bias", ln,
      [] {
        return Inputs{ops::Transpose(RandnF64({13, 7}, 403), 0, 1), RandnF64({13}, 404)};
      },
      [](const Inputs& x) { return LayerNorm(x[0], x[1], Tensor(), 1e-5); },
      [](const Inputs& x) { return reference::LayerNorm(x[0], x[1], Tensor(), 1e-5); }));
  cases.push_back(MakeCase(
      "LayerNorm/row_chunks_c1", ln,
      [] {
        return Inputs{RandnF64({131, 1}, 405), RandnF64({1}, 406), RandnF64({1}, 407)};
      },
      [](const Inputs& x) { return LayerNorm(x[0], x[1], x[2], 1e-3); },
      [](const Inputs& x) { return reference::LayerNorm(x[0], x[1], x[2], 1e-3); }));
  cases.push_back(MakeCase(
      "LayerNorm/many_rows", ln,
      [] {
        return Inputs{RandnF64({150, 45}, 408), RandF64({45}, 409, 0.5, 1.5), RandnF64({45}, 410)};
      },
      [](const Inputs& x) { return LayerNorm(x[0], x[1], x[2], 1e-5); },
      [](const Inputs& x) { return reference::LayerNorm(x[0], x[1], x[2], 1e-5); }));
  // x is gradchecked by the smaller cases; here the weight gradients cross several row chunks
  // and the sizes pass the parallel threshold (determinism_test runs the full backward).
  cases.back().grad_inputs = {1, 2};
  cases.push_back(MakeCase(
      "LayerNorm/long_rows", ln,
      [] {
        return Inputs{RandnF64({3, 4500}, 411), RandF64({4500}, 412, 0.5, 1.5),
                      RandnF64({4500}, 413)};
      },
      [](const Inputs& x) { return LayerNorm(x[0], x[1], x[2], 1e-5); },
      [](const Inputs& x) { return reference::LayerNorm(x[0], x[1], x[2], 1e-5); },
      "too large for central differences; numerics and determinism"));

  // ---- RmsNorm.
  cases.push_back(MakeCase(
      "RmsNorm/3d_prime", rms,
      [] {
        return Inputs{RandnF64({2, 3, 61}, 420), RandF64({61}, 421, 0.5, 1.5)};
      },
      [](const Inputs& x) { return RmsNorm(x[0], x[1], 1e-6); },
      [](const Inputs& x) { return reference::RmsNorm(x[0], x[1], 1e-6); }));
  cases.push_back(MakeCase(
      "RmsNorm/noncontig", rms,
      [] {
        return Inputs{ops::Transpose(RandnF64({16, 5}, 422), 0, 1), RandnF64({16}, 423)};
      },
      [](const Inputs& x) { return RmsNorm(x[0], x[1], 1e-5); },
      [](const Inputs& x) { return reference::RmsNorm(x[0], x[1], 1e-5); }));
  cases.push_back(MakeCase(
      "RmsNorm/many_rows", rms,
      [] {
        return Inputs{RandnF64({150, 29}, 424), RandF64({29}, 425, 0.5, 1.5)};
      },
      [](const Inputs& x) { return RmsNorm(x[0], x[1], 1e-6); },
      [](const Inputs& x) { return reference::RmsNorm(x[0], x[1], 1e-6); }));
  // x is gradchecked by the smaller cases; here the weight gradients cross several row chunks
  // and the sizes pass the parallel threshold (determinism_test runs the full backward).
  cases.back().grad_inputs = {1};
  cases.push_back(MakeCase(
      "RmsNorm/long_rows", rms,
      [] {
        return Inputs{RandnF64({3, 4500}, 426), RandF64({4500}, 427, 0.5, 1.5)};
      },
      [](const Inputs& x) { return RmsNorm(x[0], x[1], 1e-6); },
      [](const Inputs& x) { return reference::RmsNorm(x[0], x[1], 1e-6); },
      "too large for central differences; numerics and determinism"));

  // ---- Rope: packed positions restart per document; large positions; strided x.
  cases.push_back(MakeCase(
      "Rope/packed_positions_i32", {Op::kRope},
      [] {
        return Inputs{RandnF64({2, 5, 3, 8}, 430),
                      Ids({0, 1, 2, 0, 1, 3, 4, 0, 1, 2}, {2, 5}, DType::kI32)};
      },
      [](const Inputs& x) { return Rope(x[0], x[1], 10000.0); },
      [](const Inputs& x) { return reference::Rope(x[0], x[1], 10000.0, false); }));
  cases.push_back(MakeCase(
      "Rope/noncontig_i64_large_positions", {Op::kRope},
      [] {
        // (B, NH, T, HS) storage seen as (B, T, NH, HS), as after a head split.
        Tensor x = ops::Transpose(RandnF64({1, 2, 7, 6}, 431), 1, 2);
        return Inputs{x, Ids({0, 5, 77, 1000, 4096, 65535, 131071}, {1, 7}, DType::kI64)};
      },
      [](const Inputs& x) { return Rope(x[0], x[1], 500000.0); },
      [](const Inputs& x) { return reference::Rope(x[0], x[1], 500000.0, false); }));
  cases.push_back(MakeCase(
      "Rope/hs2_inverse", {Op::kRope},
      [] {
        return Inputs{RandnF64({3, 2, 1, 2}, 432), Ids({3, 1, 4, 1, 5, 9}, {3, 2}, DType::kI64)};
      },
      [](const Inputs& x) { return ops::Rope(x[0], x[1], 100.0, /*inverse=*/true); },
      [](const Inputs& x) { return reference::Rope(x[0], x[1], 100.0, true); },
      "plain inverse rotation (the backward); its gradcheck is Rope's"));
  cases.push_back(MakeCase(
      "Rope/many_tokens", {Op::kRope},
      [] {
        std::vector<int64_t> pos(4 * 33);
        for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int64_t>(i % 29);
        return Inputs{RandnF64({4, 33, 4, 16}, 433), Ids(pos, {4, 33}, DType::kI32)};
      },
      [](const Inputs& x) { return Rope(x[0], x[1], 10000.0); },
      [](const Inputs& x) { return reference::Rope(x[0], x[1], 10000.0, false); },
      "too large for central differences; numerics and determinism"));

  // ---- CrossEntropy: ignored rows, label smoothing, i32 / i64 targets.
  const std::vector<Op> ce = {Op::kCrossEntropy, Op::kCrossEntropyBackward};
  cases.push_back(MakeCase(
      "CrossEntropy/ignore_index", ce,
      [] {
        return Inputs{RandnF64({7, 13}, 440), Ids({3, -100, 0, 12, 7, -100, 5}, {7}, DType::kI64)};
      },
      [](const Inputs& x) { return CrossEntropy(x[0], x[1], -100, 0.0); },
      [](const Inputs& x) { return reference::CrossEntropy(x[0], x[1], -100, 0.0); }));
  cases.push_back(MakeCase(
      "CrossEntropy/label_smoothing_i32_custom_ignore", ce,
      [] {
        return Inputs{RandnF64({5, 61}, 441), Ids({60, 0, 2, 17, 33}, {5}, DType::kI32)};
      },
      [](const Inputs& x) { return CrossEntropy(x[0], x[1], 2, 0.1); },
      [](const Inputs& x) { return reference::CrossEntropy(x[0], x[1], 2, 0.1); }));
  cases.push_back(MakeCase(
      "CrossEntropy/noncontig_logits", ce,
      [] {
        return Inputs{ops::Transpose(RandnF64({11, 3}, 442), 0, 1),
                      Ids({10, 0, 4}, {3}, DType::kI64)};
      },
      [](const Inputs& x) { return CrossEntropy(x[0], x[1], -100, 0.25); },
      [](const Inputs& x) { return reference::CrossEntropy(x[0], x[1], -100, 0.25); }));
  cases.push_back(MakeCase(
      "CrossEntropy/long_vocab", ce,
      [] {
        std::vector<int64_t> t = {4999, 17, -100, 4096, 1};
        return Inputs{RandnF64({5, 5000}, 443), Ids(t, {5}, DType::kI64)};
      },
      [](const Inputs& x) { return CrossEntropy(x[0], x[1], -100, 0.1); },
      [](const Inputs& x) { return reference::CrossEntropy(x[0], x[1], -100, 0.1); },
      "too large for central differences; numerics and determinism"));

  // ---- Residual add fused with the norms (y and h = x + residual, both checked).
  cases.push_back(MakeCase(
      "AddLayerNorm/bias_and_rows", {Op::kAddLayerNorm, Op::kLayerNormBackward},
      [] {
        return Inputs{RandnF64({3, 5, 7}, 470), RandnF64({3, 5, 7}, 471), RandnF64({7}, 472),
                      RandnF64({7}, 473)};
      },
      [](const Inputs& x) {
        auto [y, h] = AddLayerNorm(x[0], x[1], x[2], x[3], 1e-5);
        return Both(y, h);
      },
      [](const Inputs& x) {
        Tensor h = RefAdd(x[0], x[1]);
        return RefBoth(reference::LayerNorm(h, x[2], x[3], 1e-5), h);
      }));
  cases.push_back(MakeCase(
      "AddLayerNorm/no_bias_many_rows", {Op::kAddLayerNorm, Op::kLayerNormBackward},
      [] { return Inputs{RandnF64({70, 3}, 474), RandnF64({70, 3}, 475), RandnF64({3}, 476)}; },
      [](const Inputs& x) { return AddLayerNorm(x[0], x[1], x[2], Tensor(), 1e-5).first; },
      [](const Inputs& x) {
        return reference::LayerNorm(RefAdd(x[0], x[1]), x[2], Tensor(), 1e-5);
      }));
  cases.push_back(MakeCase(
      "AddRmsNorm/rows", {Op::kAddRmsNorm, Op::kRmsNormBackward},
      [] {
        return Inputs{RandnF64({4, 2, 9}, 477), RandnF64({4, 2, 9}, 478), RandnF64({9}, 479)};
      },
      [](const Inputs& x) {
        auto [y, h] = AddRmsNorm(x[0], x[1], x[2], 1e-6);
        return Both(y, h);
      },
      [](const Inputs& x) {
        Tensor h = RefAdd(x[0], x[1]);
        return RefBoth(reference::RmsNorm(h, x[2], 1e-6), h);
      }));
  cases.push_back(MakeCase(
      "Swiglu/strided_up", {Op::kSwiglu, Op::kSwigluBackward},
      [] {
        return Inputs{RandnF64({4, 9}, 480), ops::Transpose(RandnF64({9, 4}, 481), 0, 1)};
      },
      [](const Inputs& x) { return Swiglu(x[0], x[1]); },
      [](const Inputs& x) {
        std::vector<double> g = x[0].ToVector<double>(), u = x[1].ToVector<double>();
        return TensorFromFn(x[0].shape(), [&](int64_t i) {
          return g[i] / (1.0 + std::exp(-g[i])) * u[i];
        });
      }));

  // ---- LinearCrossEntropy: the LM head fused with CrossEntropy (one vocab chunk, several chunks
  // with an online log-sum-exp, several row blocks, a transposed weight view).
  const std::vector<Op> lce = {Op::kLinearCrossEntropy, Op::kLinearCrossEntropyBackward};
  auto lce_ref = [](int64_t ignore, double ls) {
    return [ignore, ls](const Inputs& x) {
      return reference::CrossEntropy(reference::Matmul(x[0], x[1], false, true), x[2], ignore, ls);
    };
  };
  cases.push_back(MakeCase(
      "LinearCrossEntropy/ignore_index_label_smoothing", lce,
      [] {
        return Inputs{RandnF64({6, 5}, 460), RandnF64({11, 5}, 461),
                      Ids({3, -100, 0, 10, 7, 5}, {6}, DType::kI64)};
      },
      [](const Inputs& x) { return LinearCrossEntropy(x[0], x[1], x[2], -100, 0.1); },
      lce_ref(-100, 0.1)));
  cases.push_back(MakeCase(
      "LinearCrossEntropy/transposed_weight_i32", lce,
      [] {
        return Inputs{RandnF64({4, 3}, 462), ops::Transpose(RandnF64({3, 9}, 463), 0, 1),
                      Ids({8, 0, 2, 4}, {4}, DType::kI32)};
      },
      [](const Inputs& x) { return LinearCrossEntropy(x[0], x[1], x[2], 2, 0.0); },
      lce_ref(2, 0.0)));
  {
    OpCase c = MakeCase(
        "LinearCrossEntropy/vocab_chunks", lce,
        [] {
          std::vector<int64_t> t = {9000, 17, -100, 4096, 4095, 8191};
          return Inputs{RandnF64({6, 3}, 464), MulScalar(RandnF64({9001, 3}, 465), 3.0),
                        Ids(t, {6}, DType::kI64)};
        },
        [](const Inputs& x) { return LinearCrossEntropy(x[0], x[1], x[2], -100, 0.2); },
        lce_ref(-100, 0.2));
    c.grad_inputs = {0};  // the weight has 27k entries: too many for central differences
    cases.push_back(std::move(c));
  }
  cases.push_back(MakeCase(
      "LinearCrossEntropy/row_blocks", lce,
      [] {
        std::vector<int64_t> t(300);
        for (size_t i = 0; i < t.size(); ++i) t[i] = static_cast<int64_t>((i * 7919) % 4500);
        t[5] = -100;
        return Inputs{RandnF64({300, 2}, 466), RandnF64({4500, 2}, 467), Ids(t, {300}, DType::kI64)};
      },
      [](const Inputs& x) { return LinearCrossEntropy(x[0], x[1], x[2], -100, 0.0); },
      lce_ref(-100, 0.0), "too large for central differences; numerics and determinism"));

  // ---- AdamW: several steps against the textbook loop (returns p, m, v concatenated).
  struct AdamCase {
    const char* name;
    AdamWConfig cfg;
  };
  const AdamCase adam[] = {
      {"AdamW/three_steps", {1e-2, 0.9, 0.999, 1e-8, 0.1}},
      {"AdamW/beta1_zero_no_decay", {3e-3, 0.0, 0.95, 1e-6, 0.0}},
  };
  for (const AdamCase& a : adam) {
    AdamWConfig cfg = a.cfg;
    cases.push_back(MakeCase(
        a.name, {Op::kAdamW},
        [] {
          return Inputs{RandnF64({37}, 450), RandnF64({3, 37}, 451)};
        },
        [cfg](const Inputs& x) {
          Tensor p = Clone(x[0]);
          Tensor m = Zeros(p.shape(), p.dtype()), v = Zeros(p.shape(), p.dtype());
          for (int64_t s = 0; s < x[1].shape()[0]; ++s) {
            ops::AdamW(p, ops::Reshape(ops::Narrow(x[1], 0, s, 1), p.shape()), m, v, s + 1, cfg);
          }
          return ops::Concat({p, m, v}, 0);
        },
        [cfg](const Inputs& x) {
          return reference::AdamWSteps(x[0], x[1], cfg.lr, cfg.beta1, cfg.beta2, cfg.eps,
                                       cfg.weight_decay);
        },
        "in-place optimizer update; no backward"));
  }
  return cases;
}

}  // namespace kiln::testing
