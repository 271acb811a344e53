// Central-difference gradcheck in f64 against the autograd gradients.
#include "autograd/gradcheck.h"

#include <cmath>

#include "absl/strings/str_format.h"
#include "autograd/api.h"

namespace kiln {
namespace {

Tensor CloneF64(const Tensor& t) {
  Tensor c = Tensor::Empty(t.shape(), t.dtype());
  c.CopyFrom_(t);
  return c;
}

double Objective(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                 const std::vector<Tensor>& xs, const Tensor& w) {
  NoGradGuard no_grad;
  Tensor out = fn(xs);
  return ops::Sum(ops::Mul(ops::Cast(out, DType::kF64), w)).item();
}

}  // namespace

GradcheckResult Gradcheck(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                          const std::vector<Tensor>& inputs, const GradcheckOptions& options) {
  GradcheckResult result;
  std::vector<Tensor> xs;
  std::vector<int> check = options.inputs;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) {
      xs.push_back(inputs[i]);
      continue;
    }
    xs.push_back(CloneF64(inputs[i]));
    if (options.inputs.empty() && IsFloating(inputs[i].dtype())) check.push_back(static_cast<int>(i));
  }
  for (int i : check) {
    KILN_CHECK(xs[i].dtype() == DType::kF64)
        << "Gradcheck: input " << i << " must be f64, got " << DTypeName(xs[i].dtype());
    xs[i].set_requires_grad(true);
  }
  Tensor out = fn(xs);
  KILN_CHECK(out.dtype() == DType::kF64) << "Gradcheck: the output must be f64, got "
                                         << DTypeName(out.dtype());
  Tensor w = Randn(out.shape(), options.seed, 0, DType::kF64);
  Tensor loss = Sum(Mul(out, w));
  Backward(loss);

  for (int i : check) {
    Tensor analytic = xs[i].grad();
    std::vector<double> a = analytic.defined() ? analytic.ToVector<double>()
                                               : std::vector<double>(xs[i].numel(), 0.0);
    Tensor probe = xs[i].Detach();  // same storage, no autograd data
    double* p = probe.data<double>();
    int64_t n = probe.numel();
    int64_t count = options.max_elements > 0 && n > options.max_elements ? options.max_elements : n;
    for (int64_t c = 0; c < count; ++c) {
      int64_t e = count == n ? c : (count == 1 ? 0 : c * (n - 1) / (count - 1));
      double orig = p[e];
      p[e] = orig + options.eps;
      double fp = Objective(fn, xs, w);
      p[e] = orig - options.eps;
      double fm = Objective(fn, xs, w);
      p[e] = orig;
      double numeric = (fp - fm) / (2 * options.eps);
      double err = std::fabs(a[e] - numeric);
      result.max_abs_error = std::max(result.max_abs_error, err);
      if (result.ok && !(err <= options.atol + options.rtol * std::fabs(numeric))) {
        result.ok = false;
        result.message = absl::StrFormat(
            "input %d element %lld: analytic %.10g vs numeric %.10g (abs error %.3g)", i,
            static_cast<long long>(e), a[e], numeric, err);
      }
    }
  }
  return result;
}

}  // namespace kiln
