// Op cases for the elementwise and data-movement rows: Contiguous, Cast, Concat, the unary rows
// (+ UnaryBackward), the broadcasting binary rows (+ MaximumBackward), Where / MaskedFill and
// Dropout. Shapes mix 1, primes and non-multiples of the vector widths; views are transposed or
// narrowed; a few cases exceed the kernels' parallel threshold so determinism_test sees threads.
#include <cmath>

#include "tests/ops/op_case.h"
#include "tests/reference/elementwise.h"
#include "tests/reference/reference.h"

namespace kiln::testing {
namespace {

using Inputs = std::vector<Tensor>;

// Moves values at least `gap` away from 0 (Relu's kink, Maximum's ties, Log's pole...).
Tensor AwayFromZero(const Tensor& x, double gap) {
  std::vector<double> v = x.ToVector<double>();
  for (double& e : v) e = e >= 0 ? e + gap : e - gap;
  return FromVector<double>(v, x.shape());
}

struct UnaryRow {
  const char* name;
  Op op;
  Tensor (*run)(const Tensor&);
  double (*ref)(double);
  double lo, hi;  // input range; lo == hi means randn moved away from 0
  bool threaded;  // adds a case above the parallel threshold (one per backward kind: the
                  // gradcheck cost grows with the square of the size)
};

Tensor RunAddScalar(const Tensor& x) { return AddScalar(x, -0.75); }
Tensor RunMulScalar(const Tensor& x) { return MulScalar(x, 1.5); }

}  // namespace

KILN_OP_CASES(ElementwiseCases) {
  std::vector<OpCase> cases;

  // ---- Unary rows: a prime 2-D shape, a transposed view, and one above the parallel threshold.
  const UnaryRow rows[] = {
      {"Neg", Op::kNeg, &Neg, [](double x) { return -x; }, 0, 0, true},
      {"Exp", Op::kExp, &Exp, [](double x) { return std::exp(x); }, -4, 4, true},
      {"Log", Op::kLog, &Log, [](double x) { return std::log(x); }, 0.2, 5, false},
      {"Sqrt", Op::kSqrt, &Sqrt, [](double x) { return std::sqrt(x); }, 0.2, 5, false},
      {"Rsqrt", Op::kRsqrt, &Rsqrt, [](double x) { return 1 / std::sqrt(x); }, 0.2, 5, false},
      {"Tanh", Op::kTanh, &Tanh, [](double x) { return std::tanh(x); }, -4, 4, false},
      {"Sigmoid", Op::kSigmoid, &Sigmoid, &reference::Sigmoid, -8, 8, false},
      {"Relu", Op::kRelu, &Relu, [](double x) { return x > 0 ? x : 0.0; }, 0, 0, true},
      {"Gelu", Op::kGelu, &Gelu, &reference::Gelu, -6, 6, true},
      {"Silu", Op::kSilu, &Silu, &reference::Silu, -8, 8, false},
      {"AddScalar", Op::kAddScalar, &RunAddScalar, [](double x) { return x - 0.75; }, 0, 0, false},
      {"MulScalar", Op::kMulScalar, &RunMulScalar, [](double x) { return x * 1.5; }, 0, 0, false},
  };
  uint64_t seed = 100;
  for (const UnaryRow& row : rows) {
    std::vector<Op> covers = {row.op};
    if (row.op != Op::kAddScalar && row.op != Op::kMulScalar) covers.push_back(Op::kUnaryBackward);
    auto make = [row](Shape shape, uint64_t s) {
      return row.lo == row.hi ? AwayFromZero(RandnF64(shape, s), 0.05)
                              : RandF64(shape, s, row.lo, row.hi);
    };
    auto run = [row](const Inputs& x) { return row.run(x[0]); };
    auto ref = [row](const Inputs& x) { return reference::Map(x[0], row.ref); };
    cases.push_back({.name = std::string(row.name) + "/prime_2d",
                     .covers = covers,
                     .make_inputs =
                         [make, s = seed++] {
                           return Inputs{make({7, 37}, s)};
                         },
                     .run = run,
                     .reference = ref});
    cases.push_back({.name = std::string(row.name) + "/transposed_3d",
                     .covers = covers,
                     .make_inputs =
                         [make, s = seed++] {
                           return Inputs{ops::Transpose(make({3, 13, 1}, s), 0, 1)};
                         },
                     .run = run,
                     .reference = ref});
    if (!row.threaded) continue;
    cases.push_back({.name = std::string(row.name) + "/threaded_narrowed",
                     .covers = covers,
                     .make_inputs =
                         [make, s = seed++] {
                           return Inputs{ops::Narrow(make({23, 105}, s), 1, 3, 101)};
                         },
                     .run = run,
                     .reference = ref});
  }
  cases.push_back(
      {.name = "Gelu/scalar_0d",
       .covers = {Op::kGelu, Op::kUnaryBackward},
       .make_inputs = [] { return Inputs{Full({}, 0.37, DType::kF64)}; },
       .run = [](const Inputs& x) { return Gelu(x[0]); },
       .reference = [](const Inputs& x) { return reference::Map(x[0], &reference::Gelu); }});

  // ---- Binary rows with broadcasting.
  struct BinaryRow {
    const char* name;
    Op op;
    Tensor (*run)(const Tensor&, const Tensor&);
    double (*ref)(double, double);
  };
  const BinaryRow brows[] = {
      {"Add", Op::kAdd, &Add, [](double a, double b) { return a + b; }},
      {"Sub", Op::kSub, &Sub, [](double a, double b) { return a - b; }},
      {"Mul", Op::kMul, &Mul, [](double a, double b) { return a * b; }},
      {"Div", Op::kDiv, &Div, [](double a, double b) { return a / b; }},
      {"Maximum", Op::kMaximum, &Maximum, [](double a, double b) { return a > b ? a : b; }},
  };
  struct Layout {
    const char* name;
    Shape a, b;
    bool transpose_a;
  };
  const Layout layouts[] = {
      {"same_shape", {13, 37}, {13, 37}, false},  {"scalar_b", {7, 37}, {}, false},
      {"scalar_a_1elem", {1}, {5, 19}, false},    {"row", {11, 17}, {17}, false},
      {"column", {11, 17}, {11, 1}, false},       {"leading_dims", {2, 1, 13}, {5, 1}, false},
      {"transposed_a", {37, 13}, {13, 37}, true}, {"threaded", {23, 101}, {23, 101}, false},
  };
  for (const BinaryRow& row : brows) {
    std::vector<Op> covers = {row.op};
    if (row.op == Op::kMaximum) covers.push_back(Op::kMaximumBackward);
    for (const Layout& l : layouts) {
      // The threaded layout only for one row per kernel shape (gradcheck cost is quadratic).
      if (std::string(l.name) == "threaded" && row.op != Op::kAdd && row.op != Op::kMaximum) {
        continue;
      }
      bool div = row.op == Op::kDiv;
      cases.push_back(
          {.name = std::string(row.name) + "/" + l.name,
           .covers = covers,
           .make_inputs =
               [l, div, s = seed++] {
                 Tensor a = RandnF64(l.a, s);
                 if (l.transpose_a) a = ops::Transpose(a, 0, 1);
                 // Div's denominator stays away from 0.
                 Tensor b = div ? RandF64(l.b, s + 1000, 0.5, 2.0) : RandnF64(l.b, s + 1000);
                 return Inputs{a, b};
               },
           .run = [row](const Inputs& x) { return row.run(x[0], x[1]); },
           .reference = [row](const Inputs& x) { return reference::Zip(x[0], x[1], row.ref); }});
    }
  }
  // Maximum with exact ties: half of the gradient to each side (central differences agree).
  cases.push_back({.name = "Maximum/ties",
                   .covers = {Op::kMaximum, Op::kMaximumBackward},
                   .make_inputs =
                       [] {
                         Tensor a = RandnF64({5, 11}, 7);
                         Tensor b = RandnF64({5, 11}, 8);
                         double* pb = b.data<double>();
                         const double* pa = a.data<double>();
                         for (int64_t i = 0; i < a.numel(); i += 2) pb[i] = pa[i];
                         return Inputs{a, b};
                       },
                   .run = [](const Inputs& x) { return Maximum(x[0], x[1]); },
                   .reference =
                       [](const Inputs& x) {
                         return reference::Zip(x[0], x[1],
                                               [](double a, double b) { return a > b ? a : b; });
                       }});
  // Operators and a chain through the engine's accumulation (x used twice).
  cases.push_back({.name = "Add/chain_reuse",
                   .covers = {Op::kAdd, Op::kMul, Op::kSub, Op::kNeg},
                   .make_inputs =
                       [] {
                         return Inputs{RandnF64({3, 7}, 9), RandnF64({7}, 10)};
                       },
                   .run = [](const Inputs& x) { return x[0] * x[1] + x[0] - (-x[1]); },
                   .reference =
                       [](const Inputs& x) {
                         Tensor ab =
                             reference::Zip(x[0], x[1], [](double a, double b) { return a * b; });
                         Tensor s =
                             reference::Zip(ab, x[0], [](double a, double b) { return a + b; });
                         return reference::Zip(s, x[1], [](double a, double b) { return a + b; });
                       }});

  // ---- Where / MaskedFill.
  auto mask = [](Shape shape, DType dtype) {
    return TensorFromFn(
        shape, [](int64_t i) { return (i * 7 + 3) % 5 < 2 ? 1.0 : 0.0; }, dtype);
  };
  cases.push_back(
      {.name = "Where/bool_broadcast_all",
       .covers = {Op::kWhere},
       .make_inputs =
           [mask] {
             return Inputs{mask({7, 1}, DType::kBool), RandnF64({7, 13}, 11), RandnF64({13}, 12)};
           },
       .run = [](const Inputs& x) { return Where(x[0], x[1], x[2]); },
       .reference = [](const Inputs& x) { return reference::Where(x[0], x[1], x[2]); }});
  cases.push_back(
      {.name = "Where/u8_transposed",
       .covers = {Op::kWhere},
       .make_inputs =
           [mask] {
             return Inputs{mask({13, 37}, DType::kU8), ops::Transpose(RandnF64({37, 13}, 13), 0, 1),
                           RandnF64({13, 37}, 14)};
           },
       .run = [](const Inputs& x) { return Where(x[0], x[1], x[2]); },
       .reference = [](const Inputs& x) { return reference::Where(x[0], x[1], x[2]); }});
  cases.push_back({.name = "MaskedFill/row_mask",
                   .covers = {Op::kWhere},
                   .make_inputs =
                       [mask] {
                         return Inputs{RandnF64({3, 5, 11}, 15), mask({11}, DType::kBool)};
                       },
                   .run = [](const Inputs& x) { return MaskedFill(x[0], x[1], -2.5); },
                   .reference =
                       [](const Inputs& x) {
                         return reference::Where(x[1], Full({}, -2.5, DType::kF64), x[0]);
                       }});

  // ---- Contiguous / Cast / Concat.
  cases.push_back({.name = "Contiguous/transposed",
                   .covers = {Op::kContiguous},
                   .make_inputs =
                       [] {
                         return Inputs{RandnF64({13, 7, 3}, 16)};
                       },
                   .run =
                       [](const Inputs& x) {
                         return Contiguous(Permute(x[0], {2, 0, 1}));
                       },
                   .reference =
                       [](const Inputs& x) {
                         return reference::Permute(x[0], {2, 0, 1});
                       }});
  cases.push_back(
      {.name = "Contiguous/narrowed_threaded",
       .covers = {Op::kContiguous},
       .make_inputs =
           [] {
             return Inputs{RandnF64({23, 110}, 17)};
           },
       .run = [](const Inputs& x) { return Contiguous(Narrow(x[0], 1, 5, 100)); },
       .reference = [](const Inputs& x) { return reference::Narrow(x[0], 1, 5, 100); }});
  // f64 -> f32 -> f64 (and f32 -> f64 -> f32): exact in the f32 run, f32 rounding in the f64 run.
  cases.push_back({.name = "Cast/f32_f64_roundtrip",
                   .covers = {Op::kCast},
                   .make_inputs =
                       [] {
                         return Inputs{ops::Transpose(RandnF64({5, 37}, 18), 0, 1)};
                       },
                   .run =
                       [](const Inputs& x) {
                         DType other = x[0].dtype() == DType::kF64 ? DType::kF32 : DType::kF64;
                         return Cast(Cast(x[0], other), x[0].dtype());
                       },
                   .reference =
                       [](const Inputs& x) {
                         return reference::Map(x[0], [](double v) {
                           return static_cast<double>(static_cast<float>(v));
                         });
                       },
                   .gradcheck = false,
                   .no_grad_reason = "f32 rounding makes central differences noisy; "
                                     "Cast/f64_identity_chain checks the gradient"});
  cases.push_back(
      {.name = "Cast/f64_identity_chain",
       .covers = {Op::kCast},
       .make_inputs =
           [] {
             return Inputs{RandnF64({7, 13}, 19)};
           },
       // f64 run: f64 -> f64 (no-op) ... the f32 run goes f32 -> f64 -> f32 exactly.
       .run =
           [](const Inputs& x) {
             return Cast(MulScalar(Cast(x[0], DType::kF64), 2.0), x[0].dtype());
           },
       .reference =
           [](const Inputs& x) { return reference::Map(x[0], [](double v) { return 2 * v; }); }});
  cases.push_back({.name = "Cast/bf16_f16_storage",
                   .covers = {Op::kCast},
                   .make_inputs =
                       [] {
                         return Inputs{RandnF64({11, 37}, 20), RandnF64({11, 37}, 21)};
                       },
                   .run =
                       [](const Inputs& x) {
                         return Add(Cast(Cast(x[0], DType::kBF16), x[0].dtype()),
                                    Cast(Cast(x[1], DType::kF16), x[1].dtype()));
                       },
                   .reference =
                       [](const Inputs& x) {
                         return reference::Zip(x[0], x[1], [](double a, double b) {
                           return reference::RoundToBits(a, 8, -125) +
                                  reference::RoundToBits(b, 11, -13);
                         });
                       },
                   .gradcheck = false,
                   .no_grad_reason = "bf16 / f16 rounding is piecewise constant"});
  cases.push_back(
      {.name = "Cast/integer_and_mask",
       .covers = {Op::kCast},
       .make_inputs =
           [] {
             return Inputs{MulScalar(RandnF64({7, 19}, 22), 40.0)};
           },
       .run =
           [](const Inputs& x) {
             DType t = x[0].dtype();
             Tensor i32 = Cast(Cast(x[0], DType::kI32), t);
             Tensor i64 = Cast(Cast(Cast(x[0], DType::kI64), DType::kI32), t);
             Tensor u8 = Cast(Cast(x[0], DType::kU8), t);  // saturates at 0
             Tensor b = Cast(Cast(Cast(x[0], DType::kI32), DType::kBool), t);
             return Concat({i32, i64, u8, b}, 0);
           },
       .reference =
           [](const Inputs& x) {
             auto t = [](double v) { return std::trunc(v); };
             return reference::Concat(
                 {reference::Map(x[0], t), reference::Map(x[0], t),
                  reference::Map(x[0], [t](double v) { return std::max(0.0, t(v)); }),
                  reference::Map(x[0], [t](double v) { return t(v) != 0 ? 1.0 : 0.0; })},
                 0);
           },
       .gradcheck = false,
       .no_grad_reason = "integer casts are piecewise constant"});
  cases.push_back(
      {.name = "Cast/int_to_float_add",
       .covers = {Op::kCast},
       .make_inputs =
           [] {
             return Inputs{RandnF64({3, 17}, 23),
                           TensorFromFn(
                               {17}, [](int64_t i) { return i * 3 - 20.0; }, DType::kI64)};
           },
       .run = [](const Inputs& x) { return Add(x[0], Cast(x[1], x[0].dtype())); },
       .reference =
           [](const Inputs& x) {
             return reference::Zip(x[0], x[1], [](double a, double b) { return a + b; });
           }});
  cases.push_back({.name = "Concat/dim1_three_views",
                   .covers = {Op::kConcat},
                   .make_inputs =
                       [] {
                         return Inputs{RandnF64({5, 3, 7}, 24),
                                       ops::Transpose(RandnF64({5, 7, 1}, 25), 1, 2),
                                       ops::Narrow(RandnF64({5, 20, 7}, 26), 1, 4, 13)};
                       },
                   .run =
                       [](const Inputs& x) {
                         return Concat({x[0], x[1], x[2]}, 1);
                       },
                   .reference =
                       [](const Inputs& x) {
                         return reference::Concat({x[0], x[1], x[2]}, 1);
                       }});
  cases.push_back({.name = "Concat/last_dim_one_input_repeated",
                   .covers = {Op::kConcat},
                   .make_inputs =
                       [] {
                         return Inputs{RandnF64({4, 13}, 27), RandnF64({4, 1}, 28)};
                       },
                   .run =
                       [](const Inputs& x) {
                         return Concat({x[0], x[1], x[0]}, -1);
                       },
                   .reference =
                       [](const Inputs& x) {
                         return reference::Concat({x[0], x[1], x[0]}, -1);
                       }});
  cases.push_back({.name = "Concat/dim0_nine_inputs",
                   .covers = {Op::kConcat},
                   .make_inputs =
                       [] {
                         return Inputs{RandnF64({2, 37}, 29), RandnF64({1, 37}, 30)};
                       },
                   .run =
                       [](const Inputs& x) {
                         std::vector<Tensor> xs;
                         for (int i = 0; i < 9; ++i) xs.push_back(x[i % 2]);
                         return Concat(xs, 0);
                       },
                   .reference =
                       [](const Inputs& x) {
                         std::vector<Tensor> xs;
                         for (int i = 0; i < 9; ++i) xs.push_back(x[i % 2]);
                         return reference::Concat(xs, 0);
                       }});

  // ---- Dropout (the reference recomputes the Philox mask).
  cases.push_back(
      {.name = "Dropout/p03_transposed",
       .covers = {Op::kDropout},
       .make_inputs =
           [] {
             return Inputs{ops::Transpose(RandnF64({37, 13}, 31), 0, 1)};
           },
       .run = [](const Inputs& x) { return Dropout(x[0], 0.3, 1234, 77); },
       .reference = [](const Inputs& x) { return reference::Dropout(x[0], 0.3, 1234, 77); }});
  cases.push_back(
      {.name = "Dropout/p05_threaded",
       .covers = {Op::kDropout},
       .make_inputs =
           [] {
             return Inputs{RandnF64({23, 97}, 32)};
           },
       .run = [](const Inputs& x) { return Dropout(x[0], 0.5, 99, 1ull << 40); },
       .reference = [](const Inputs& x) { return reference::Dropout(x[0], 0.5, 99, 1ull << 40); }});
  cases.push_back({.name = "Dropout/p0_identity",
                   .covers = {Op::kDropout},
                   .make_inputs =
                       [] {
                         return Inputs{RandnF64({3, 7}, 33)};
                       },
                   .run = [](const Inputs& x) { return MulScalar(Dropout(x[0], 0.0, 5, 0), 1.0); },
                   .reference = [](const Inputs& x) { return reference::Values(x[0]); }});
  return cases;
}

}  // namespace kiln::testing
