// Op cases for the reduction rows: Sum, Mean, Max (+ MaxBackward), Argmax, Logsumexp, Softmax,
// LogSoftmax. Shapes mix 1, primes and non-multiples of the 16 lanes; reductions run over the
// first / middle / last / several / all dims, keepdim on and off, on transposed views; long rows
// cross the 4096-element block (the pairwise block tree) and big cases exceed the kernels'
// parallel thresholds so determinism_test sees the thread split.
#include <cmath>
#include <limits>

#include "tests/ops/op_case.h"
#include "tests/reference/reduce.h"
#include "tests/reference/reference.h"

namespace kiln::testing {
namespace {

using Inputs = std::vector<Tensor>;
using Dims = std::vector<int64_t>;

// A (d0, d1, d2) tensor seen through a permutation: non-contiguous.
Tensor Permuted(const Shape& shape, const Dims& perm, uint64_t seed) {
  return ops::Permute(RandnF64(shape, seed), perm);
}

constexpr const char* kBigReason = "too large for central differences; numerics and determinism";

struct DimsCase {
  const char* name;
  std::function<Inputs()> make;
  Dims dims;
  bool keepdim;
};

std::vector<DimsCase> DimsCases(uint64_t seed) {
  return {
      {"all_prime",
       [=] {
         return Inputs{RandnF64({7, 13}, seed)};
       },
       {},
       false},
      {"last_keepdim",
       [=] {
         return Inputs{RandnF64({3, 61}, seed + 1)};
       },
       {-1},
       true},
      {"first",
       [=] {
         return Inputs{RandnF64({37, 5}, seed + 2)};
       },
       {0},
       false},
      {"middle_3d",
       [=] {
         return Inputs{RandnF64({4, 13, 6}, seed + 3)};
       },
       {1},
       false},
      {"several_noncontig_keepdim",
       [=] {
         return Inputs{Permuted({3, 5, 7}, {2, 0, 1}, seed + 4)};
       },
       {0, 2},
       true},
      {"all_keepdim_ones",
       [=] {
         return Inputs{RandnF64({1, 17, 1}, seed + 5)};
       },
       {},
       true},
      {"long_row",
       [=] {
         return Inputs{RandnF64({2, 4500}, seed + 6)};
       },
       {1},
       false},
  };
}

}  // namespace

KILN_OP_CASES(ReduceCases) {
  std::vector<OpCase> cases;

  // ---- Sum / Mean / Max / Logsumexp over dims.
  struct Row {
    const char* name;
    Op op;
    Tensor (*run)(const Tensor&, const Dims&, bool);
    Tensor (*ref)(const Tensor&, const Dims&, bool);
  };
  const Row rows[] = {
      {"Sum", Op::kSum, &Sum, &reference::Sum},
      {"Mean", Op::kMean, &Mean, &reference::Mean},
      {"Max", Op::kMax, &Max, &reference::Max},
      {"Logsumexp", Op::kLogsumexp, &Logsumexp, &reference::Logsumexp},
  };
  uint64_t seed = 300;
  for (const Row& row : rows) {
    std::vector<Op> covers = {row.op};
    if (row.op == Op::kMax) covers.push_back(Op::kMaxBackward);
    for (const DimsCase& d : DimsCases(seed)) {
      // Central differences over a long row cost R^2 exps for Logsumexp: numerics only there.
      const bool slow = row.op == Op::kLogsumexp && std::string(d.name) == "long_row";
      cases.push_back(MakeCase(
          std::string(row.name) + "/" + d.name, covers, d.make,
          [row, d](const Inputs& x) { return row.run(x[0], d.dims, d.keepdim); },
          [row, d](const Inputs& x) { return row.ref(x[0], d.dims, d.keepdim); },
          slow ? kBigReason : nullptr));
    }
    seed += 10;
    // Above the parallel thresholds: many rows split across threads, and one long row split into
    // 4096 blocks computed concurrently.
    cases.push_back(MakeCase(
        std::string(row.name) + "/many_rows", {row.op},
        [] {
          return Inputs{RandnF64({67, 613}, 7)};
        },
        [row](const Inputs& x) { return row.run(x[0], {1}, false); },
        [row](const Inputs& x) { return row.ref(x[0], {1}, false); }, kBigReason));
    cases.push_back(MakeCase(
        std::string(row.name) + "/all_long_blocks", {row.op},
        [] {
          return Inputs{RandnF64({41, 997}, 8)};
        },
        [row](const Inputs& x) { return row.run(x[0], {}, false); },
        [row](const Inputs& x) { return row.ref(x[0], {}, false); }, kBigReason));
  }
  // Sum of a column-major view over its leading dim (the broadcast-backward pattern of SumToShape).
  cases.push_back(MakeCase(
      "Sum/bias_grad_pattern", {Op::kSum},
      [] {
        return Inputs{ops::Transpose(RandnF64({13, 2, 7}, 9), 0, 2)};
      },
      [](const Inputs& x) {
        return Sum(x[0], {0, 1}, true);
      },
      [](const Inputs& x) {
        return reference::Sum(x[0], {0, 1}, true);
      }));

  // ---- Max with exact ties: not differentiable there, so the even split is checked directly.
  cases.push_back(MakeCase(
      "MaxBackward/ties_split_evenly", {Op::kMaxBackward},
      [] {
        Tensor x = TensorFromFn({3, 6, 5}, [](int64_t i) { return double((i * 7) % 4); });
        return Inputs{x, RandnF64({3, 5}, 11)};
      },
      [](const Inputs& x) { return ops::MaxBackward(x[0], ops::Max(x[0], {1}), x[1], {1}, false); },
      [](const Inputs& x) { return reference::MaxBackward(x[0], x[1], {1}, false); },
      "ties make Max non-differentiable; the even split is compared with the reference"));

  // ---- Logsumexp with -inf: a row of all -inf gives -inf; partly -inf rows stay finite.
  auto with_inf = [] {
    Tensor x = RandnF64({4, 9}, 12);
    double* p = x.data<double>();
    const double inf = std::numeric_limits<double>::infinity();
    for (int j = 0; j < 9; ++j) p[j] = -inf;  // row 0 all -inf
    p[9 + 3] = -inf;                          // row 1 partly -inf
    p[18 + 0] = p[18 + 8] = -inf;
    return Inputs{x};
  };
  cases.push_back(MakeCase(
      "Logsumexp/all_neg_inf_row", {Op::kLogsumexp}, with_inf,
      [](const Inputs& x) { return Logsumexp(x[0], {1}); },
      [](const Inputs& x) { return reference::Logsumexp(x[0], {1}, false); },
      "a row of all -inf has no finite gradient (exp(-inf - -inf))"));
  cases.push_back(MakeCase(
      "Logsumexp/partly_neg_inf", {Op::kLogsumexp},
      [with_inf] { return Inputs{ops::Narrow(with_inf()[0], 0, 1, 3)}; },
      [](const Inputs& x) { return Logsumexp(x[0], {1}, true); },
      [](const Inputs& x) { return reference::Logsumexp(x[0], {1}, true); }));

  // ---- Argmax: first max wins, NaN counts as the max.
  cases.push_back(MakeCase(
      "Argmax/prime_last", {Op::kArgmax},
      [] {
        return Inputs{RandnF64({7, 13}, 13)};
      },
      [](const Inputs& x) { return Argmax(x[0], -1); },
      [](const Inputs& x) { return reference::Argmax(x[0], 1, false); },
      "returns indices (i64): not differentiable"));
  cases.push_back(MakeCase(
      "Argmax/first_dim_noncontig_keepdim", {Op::kArgmax},
      [] {
        return Inputs{Permuted({5, 37, 3}, {1, 0, 2}, 14)};
      },
      [](const Inputs& x) { return Argmax(x[0], 0, true); },
      [](const Inputs& x) { return reference::Argmax(x[0], 0, true); },
      "returns indices (i64): not differentiable"));
  cases.push_back(MakeCase(
      "Argmax/ties_and_nan", {Op::kArgmax},
      [] {
        Tensor x = TensorFromFn({4, 7}, [](int64_t i) { return double((i * 5) % 3); });
        double* p = x.data<double>();
        p[2 * 7 + 4] = std::numeric_limits<double>::quiet_NaN();
        p[3 * 7 + 0] = std::numeric_limits<double>::quiet_NaN();
        p[3 * 7 + 5] = std::numeric_limits<double>::quiet_NaN();
        return Inputs{x};
      },
      [](const Inputs& x) { return Argmax(x[0], 1); },
      [](const Inputs& x) { return reference::Argmax(x[0], 1, false); },
      "returns indices (i64): not differentiable"));

  // ---- Softmax / LogSoftmax along one dim.
  struct SmRow {
    const char* name;
    Op op;
    Tensor (*run)(const Tensor&, int64_t);
    Tensor (*ref)(const Tensor&, int64_t);
  };
  const SmRow sm_rows[] = {
      {"Softmax", Op::kSoftmax, &Softmax, &reference::Softmax},
      {"LogSoftmax", Op::kLogSoftmax, &LogSoftmax, &reference::LogSoftmax},
  };
  for (const SmRow& row : sm_rows) {
    struct D {
      const char* name;
      std::function<Inputs()> make;
      int64_t dim;
      const char* reason;
    };
    const D ds[] = {
        {"last_prime",
         [] {
           return Inputs{RandnF64({7, 13}, 20)};
         },
         -1, nullptr},
        {"first",
         [] {
           return Inputs{RandnF64({37, 3}, 21)};
         },
         0, nullptr},
        {"middle_noncontig",
         [] {
           return Inputs{Permuted({3, 17, 4}, {1, 0, 2}, 22)};
         },
         0, nullptr},
        {"one",
         [] {
           return Inputs{RandnF64({5, 1}, 23)};
         },
         1, nullptr},
        // Large logits: only the max subtraction keeps exp finite.
        // (values exact in f32, so the f32 run sees the same inputs)
        {"shifted_large",
         [] {
           return Inputs{
               TensorFromFn({3, 19}, [](int64_t i) { return 900.0 + (i * 7 % 13) * 0.25; })};
         },
         1, nullptr},
        {"long_row",
         [] {
           return Inputs{RandnF64({2, 4500}, 25)};
         },
         1, kBigReason},
        {"many_rows",
         [] {
           return Inputs{RandnF64({97, 131}, 26)};
         },
         1, kBigReason},
    };
    for (const D& d : ds) {
      cases.push_back(MakeCase(
          std::string(row.name) + "/" + d.name, {row.op}, d.make,
          [row, d](const Inputs& x) { return row.run(x[0], d.dim); },
          [row, d](const Inputs& x) { return row.ref(x[0], d.dim); }, d.reason));
    }
  }
  return cases;
}

}  // namespace kiln::testing
