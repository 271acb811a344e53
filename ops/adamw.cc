// One AdamW step in place (row AdamW, an UPDATE: no backward), torch.optim.AdamW's formula. The
// bias corrections are computed here once per call in double with kmath (std::pow's bits differ
// between C libraries); the kernel does the elementwise arithmetic in the tensors' dtype.
#include <cmath>

#include "base/kmath.h"
#include "ops/api.h"
#include "ops/dispatch.h"
#include "ops/reduce_util.h"

namespace kiln::ops {

void AdamW(const Tensor& param, const Tensor& grad, const Tensor& m, const Tensor& v, int64_t step,
           const AdamWConfig& config) {
  CheckFloat(param, "AdamW", "param");
  const std::pair<const Tensor*, const char*> others[] = {{&grad, "grad"}, {&m, "m"}, {&v, "v"}};
  for (const auto& [t, what] : others) {
    CheckFloat(*t, "AdamW", what);
    CheckSameDtype(param, *t, "AdamW");
    KILN_CHECK(t->shape() == param.shape())
        << "AdamW: expected " << what << " of shape " << ShapeToString(param.shape())
        << " (the param's), got " << ShapeToString(t->shape());
  }
  for (const auto& [t, what] :
       {std::pair<const Tensor*, const char*>{&param, "param"}, {&m, "m"}, {&v, "v"}}) {
    KILN_CHECK(t->is_contiguous())
        << "AdamW: " << what << " is updated in place and must be contiguous";
  }
  KILN_CHECK(step >= 1) << "AdamW: step counts from 1, got " << step;
  KILN_CHECK(config.lr >= 0) << "AdamW: expected lr >= 0, got " << config.lr;
  KILN_CHECK(config.beta1 >= 0 && config.beta1 < 1)
      << "AdamW: expected beta1 in [0, 1), got " << config.beta1;
  KILN_CHECK(config.beta2 >= 0 && config.beta2 < 1)
      << "AdamW: expected beta2 in [0, 1), got " << config.beta2;
  KILN_CHECK(config.eps >= 0) << "AdamW: expected eps >= 0, got " << config.eps;
  KILN_CHECK(config.weight_decay >= 0)
      << "AdamW: expected weight_decay >= 0, got " << config.weight_decay;
  const int64_t n = param.numel();
  if (n > 0) {
    const double s = static_cast<double>(step);
    const double bc1 = 1.0 - kmath::PowPositive(config.beta1, s);
    const double bc2 = 1.0 - kmath::PowPositive(config.beta2, s);
    // Kernel slots: out[0] param, out[1] m, out[2] v (in place), in[0] grad, all contiguous (n);
    // fattr: lr, beta1, beta2, eps, weight_decay, lr / bc1, sqrt(bc2).
    KernelArgs args;
    args.out[0] = ToKArray(View(param, {n}));
    args.out[1] = ToKArray(View(m, {n}));
    args.out[2] = ToKArray(View(v, {n}));
    args.n_out = 3;
    const Tensor in0 = View(Dense(grad), {n});
    args.in[0] = ToKArray(in0);
    args.n_in = 1;
    args.fattr[0] = config.lr;
    args.fattr[1] = config.beta1;
    args.fattr[2] = config.beta2;
    args.fattr[3] = config.eps;
    args.fattr[4] = config.weight_decay;
    args.fattr[5] = config.lr / bc1;
    args.fattr[6] = std::sqrt(bc2);  // IEEE sqrt: correctly rounded everywhere
    RunKernel(Op::kAdamW, args, param.device());
  }
  param.BumpVersion();
  m.BumpVersion();
  v.BumpVersion();
}

}  // namespace kiln::ops
