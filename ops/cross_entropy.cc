// Cross-entropy of (N, V) logits against (N) integer targets (row CrossEntropy), with ignore_index
// and label smoothing, and its fused backward (row CrossEntropyBackward, softmax minus the smoothed
// one-hot, from the saved log-sum-exp). Targets are range-checked here, before any kernel reads
// logits[i, t_i], so a bad target is a kiln::Error naming the row, never undefined behaviour.
#include "ops/api.h"
#include "ops/backward.h"
#include "ops/dispatch.h"
#include "ops/reduce_util.h"

namespace kiln::ops {
void CheckCrossEntropyTargets(const Tensor& targets, int64_t n, int64_t v, int64_t ignore_index,
                              double label_smoothing, const char* op) {
  CheckIndexDtype(targets, op, "targets");
  KILN_CHECK(targets.dim() == 1 && targets.shape()[0] == n)
      << op << ": expected targets of shape (" << n << ",) for " << n << " rows, got "
      << ShapeToString(targets.shape());
  KILN_CHECK(label_smoothing >= 0 && label_smoothing <= 1)
      << op << ": expected label_smoothing in [0, 1], got " << label_smoothing;
  std::vector<int64_t> t = targets.ToVector<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    KILN_CHECK(t[i] == ignore_index || (t[i] >= 0 && t[i] < v))
        << op << ": target " << t[i] << " at row " << i << " is outside [0, " << v
        << ") and is not ignore_index (" << ignore_index << ")";
  }
}

namespace {

void CheckCrossEntropyArgs(const Tensor& logits, const Tensor& targets, int64_t ignore_index,
                           double label_smoothing, const char* op) {
  CheckFloat(logits, op, "logits");
  KILN_CHECK(logits.dim() == 2) << op << ": expected logits of shape (N, V), got "
                                << ShapeToString(logits.shape());
  const int64_t n = logits.shape()[0], v = logits.shape()[1];
  KILN_CHECK(v > 0) << op << ": expected a vocabulary V > 0, got logits of shape "
                    << ShapeToString(logits.shape());
  CheckCrossEntropyTargets(targets, n, v, ignore_index, label_smoothing, op);
}

}  // namespace

std::vector<Tensor> CrossEntropy(const Tensor& logits, const Tensor& targets, int64_t ignore_index,
                                 double label_smoothing) {
  CheckCrossEntropyArgs(logits, targets, ignore_index, label_smoothing, "CrossEntropy");
  const int64_t n = logits.shape()[0];
  Tensor loss = Tensor::Empty({n}, logits.dtype(), logits.device());
  Tensor lse = Tensor::Empty({n}, logits.dtype(), logits.device());
  if (n == 0) return {loss, lse};
  // Kernel slots: in[0] logits (N, V) unit inner stride; in[1] targets (N) i32/i64, any stride;
  // out[0] loss (N), out[1] lse (N); iattr[0] ignore_index; fattr[0] label_smoothing.
  KernelArgs args;
  const Tensor in0 = logits.strides()[1] == 1 ? logits : Dense(logits);
  args.in[0] = ToKArray(in0);
  args.in[1] = ToKArray(targets);
  args.n_in = 2;
  args.out[0] = ToKArray(loss);
  args.out[1] = ToKArray(lse);
  args.n_out = 2;
  args.iattr[0] = ignore_index;
  args.fattr[0] = label_smoothing;
  RunKernel(Op::kCrossEntropy, args, logits.device());
  return {loss, lse};
}

Tensor CrossEntropyBackward(const Tensor& logits, const Tensor& targets, const Tensor& lse,
                            const Tensor& grad_loss, int64_t ignore_index, double label_smoothing) {
  CheckCrossEntropyArgs(logits, targets, ignore_index, label_smoothing, "CrossEntropyBackward");
  const int64_t n = logits.shape()[0];
  for (const Tensor* t : {&lse, &grad_loss}) {
    KILN_CHECK(t->defined() && t->dim() == 1 && t->shape()[0] == n)
        << "CrossEntropyBackward: expected lse and grad_loss of shape (" << n << ",), got "
        << (t->defined() ? ShapeToString(t->shape()) : std::string("undefined"));
    CheckSameDtype(logits, *t, "CrossEntropyBackward");
  }
  Tensor gx = Tensor::Empty(logits.shape(), logits.dtype(), logits.device());
  if (n == 0) return gx;
  // Kernel slots: in[0] logits (N, V) unit inner stride; in[1] targets (N); in[2] lse (N),
  // in[3] grad_loss (N), contiguous; out[0] grad_logits (N, V); iattr[0] ignore_index;
  // fattr[0] label_smoothing.
  KernelArgs args;
  const Tensor in0 = logits.strides()[1] == 1 ? logits : Dense(logits);
  args.in[0] = ToKArray(in0);
  args.in[1] = ToKArray(targets);
  const Tensor in2 = Dense(lse);
  args.in[2] = ToKArray(in2);
  const Tensor in3 = Dense(grad_loss);
  args.in[3] = ToKArray(in3);
  args.n_in = 4;
  args.out[0] = ToKArray(gx);
  args.n_out = 1;
  args.iattr[0] = ignore_index;
  args.fattr[0] = label_smoothing;
  RunKernel(Op::kCrossEntropyBackward, args, logits.device());
  return gx;
}

// Inputs {logits, targets}; saved: both, and the output lse. attrs.ints {ignore_index},
// attrs.floats {label_smoothing}.
std::vector<Tensor> BackwardCrossEntropy(const BackwardCtx& ctx) {
  if (!ctx.needs_grad[0] || !ctx.grads[0].defined()) return {Tensor(), Tensor()};
  return {CrossEntropyBackward(ctx.inputs[0], ctx.inputs[1], ctx.outputs[1], ctx.grads[0],
                               ctx.attrs.ints[0], ctx.attrs.floats[0]),
          Tensor()};
}

}  // namespace kiln::ops
