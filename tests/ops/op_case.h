// The op-case table that drives the op tests: one or more cases per row of ops/ops.def. Each case
// builds its inputs (f64, deterministic), runs the differentiable kiln op, and gives a naive f64
// reference (tests/reference/) to compare against. The harness (op_cases_test.cc) runs every case
// for numerics in f32 and f64 and for gradcheck; determinism_test.cc runs them across threads and
// ISA paths; coverage is checked against the op enum.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "autograd/api.h"
#include "ops/op_enum.h"

namespace kiln::testing {

struct OpCase {
  std::string name;           // "Gelu/prime_shape"
  std::vector<Op> covers;     // rows this case tests: the op, plus any BACKWARD rows its gradcheck
                              // exercises (e.g. {Op::kLayerNorm, Op::kLayerNormBackward})
  // Deterministic inputs. Floating inputs in f64 (the harness casts them to f32 for the f32 run);
  // index / mask inputs in their own dtypes. A case may return non-contiguous views.
  std::function<std::vector<Tensor>()> make_inputs;
  // The op under test, through the differentiable API. Must work for f32 and f64 inputs and
  // return a floating tensor (or an index tensor for argmax-like ops).
  std::function<Tensor(const std::vector<Tensor>&)> run;
  // Naive reference on the f64 inputs (loops over ToVector<double>(); never the kernel under test).
  std::function<Tensor(const std::vector<Tensor>&)> reference;
  double atol = 1e-5, rtol = 1e-4;  // f32 vs reference; the f64 run uses 1e-10 / 1e-9
  bool gradcheck = true;            // false needs no_grad_reason
  std::string no_grad_reason;
  std::vector<int> grad_inputs;     // inputs to gradcheck; empty = every floating input
};

std::vector<OpCase>& OpCaseRegistry();

struct OpCaseRegistrar {
  explicit OpCaseRegistrar(std::vector<OpCase> (*make)()) {
    for (auto& c : make()) OpCaseRegistry().push_back(std::move(c));
  }
};

// In a family file: KILN_OP_CASES(UnaryCases) { return {OpCase{...}, ...}; }
#define KILN_OP_CASES(name)                                                      \
  static std::vector<::kiln::testing::OpCase> name();                            \
  static ::kiln::testing::OpCaseRegistrar name##_registrar(&name);               \
  static std::vector<::kiln::testing::OpCase> name()

// A case from its parts; a non-null no_grad_reason turns gradcheck off with that reason.
OpCase MakeCase(std::string name, std::vector<Op> covers,
                std::function<std::vector<Tensor>()> make_inputs,
                std::function<Tensor(const std::vector<Tensor>&)> run,
                std::function<Tensor(const std::vector<Tensor>&)> reference,
                const char* no_grad_reason = nullptr);

// Helpers for cases: deterministic f64 inputs.
Tensor RandnF64(const Shape& shape, uint64_t seed);
Tensor RandF64(const Shape& shape, uint64_t seed, double lo, double hi);
// Builds a tensor with `shape` from a function of the flat index (for references).
Tensor TensorFromFn(const Shape& shape, const std::function<double(int64_t)>& fn,
                    DType dtype = DType::kF64);

}  // namespace kiln::testing
