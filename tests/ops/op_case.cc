#include "tests/ops/op_case.h"

namespace kiln::testing {

std::vector<OpCase>& OpCaseRegistry() {
  static std::vector<OpCase>* cases = new std::vector<OpCase>();
  return *cases;
}

OpCase MakeCase(std::string name, std::vector<Op> covers,
                std::function<std::vector<Tensor>()> make_inputs,
                std::function<Tensor(const std::vector<Tensor>&)> run,
                std::function<Tensor(const std::vector<Tensor>&)> reference,
                const char* no_grad_reason) {
  OpCase c;
  c.name = std::move(name);
  c.covers = std::move(covers);
  c.make_inputs = std::move(make_inputs);
  c.run = std::move(run);
  c.reference = std::move(reference);
  if (no_grad_reason != nullptr) {
    c.gradcheck = false;
    c.no_grad_reason = no_grad_reason;
  }
  return c;
}

Tensor RandnF64(const Shape& shape, uint64_t seed) { return Randn(shape, seed, 0, DType::kF64); }

Tensor RandF64(const Shape& shape, uint64_t seed, double lo, double hi) {
  Tensor u = Rand(shape, seed, 0, DType::kF64);
  double* p = u.data<double>();
  for (int64_t i = 0; i < u.numel(); ++i) p[i] = lo + (hi - lo) * p[i];
  return u;
}

Tensor TensorFromFn(const Shape& shape, const std::function<double(int64_t)>& fn, DType dtype) {
  std::vector<double> v(static_cast<size_t>(NumElements(shape)));
  for (size_t i = 0; i < v.size(); ++i) v[i] = fn(static_cast<int64_t>(i));
  return FromVector<double>(v, shape, dtype);
}

}  // namespace kiln::testing
