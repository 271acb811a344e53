// CPU kernels of the broadcasting binary rows (Add, Sub, Mul, Div, Maximum) and MaximumBackward,
// f32 and f64. The op layer expands both operands to the output shape (stride 0 on broadcast
// dims); the strided walk merges dims, so same-shape contiguous operands become one flat loop
// and a scalar operand a stride-0 loop. One IEEE operation per element: same bits everywhere.
#include <cstdint>

#include "cpu/elementwise.h"
#include "cpu/kernels.h"
#include "tensor/dtype.h"

namespace kiln::cpu::KILN_ISA_NS {
namespace {

// in[0] = a, in[1] = b (expanded to the output shape, any strides), out[0] = contiguous.
template <typename T, typename F>
void ZipAs(const KernelArgs& args, F f) {
  T* c = static_cast<T*>(args.out[0].data);
  const T* a = static_cast<const T*>(args.in[0].data);
  const T* b = static_cast<const T*>(args.in[1].data);
  const KArray* const ops[3] = {&args.out[0], &args.in[0], &args.in[1]};
  ForEachPiece(MakeLoop<3>(ops), [&](const int64_t* off, const int64_t* step, int64_t n) {
    T* cp = c + off[0];
    const T* ap = a + off[1];
    const T* bp = b + off[2];
    if (step[0] == 1 && step[1] == 1 && step[2] == 1) {
      for (int64_t j = 0; j < n; ++j) cp[j] = f(ap[j], bp[j]);
    } else if (step[0] == 1 && step[1] == 1 && step[2] == 0) {
      const T bv = bp[0];
      for (int64_t j = 0; j < n; ++j) cp[j] = f(ap[j], bv);
    } else if (step[0] == 1 && step[1] == 0 && step[2] == 1) {
      const T av = ap[0];
      for (int64_t j = 0; j < n; ++j) cp[j] = f(av, bp[j]);
    } else {
      for (int64_t j = 0; j < n; ++j) cp[j * step[0]] = f(ap[j * step[1]], bp[j * step[2]]);
    }
  });
}

template <typename F>
void Zip(const KernelArgs& args, F f) {
  if (args.in[0].dtype == DType::kF64) {
    ZipAs<double>(args, f);
  } else {
    ZipAs<float>(args, f);
  }
}

template <typename T>
void MaximumBackwardAs(const KernelArgs& args) {
  T* ga = static_cast<T*>(args.out[0].data);
  T* gb = static_cast<T*>(args.out[1].data);
  const T* a = static_cast<const T*>(args.in[0].data);
  const T* b = static_cast<const T*>(args.in[1].data);
  const T* g = static_cast<const T*>(args.in[2].data);
  const KArray* const ops[5] = {&args.out[0], &args.out[1], &args.in[0], &args.in[1],
                                &args.in[2]};
  ForEachPiece(MakeLoop<5>(ops), [&](const int64_t* off, const int64_t* step, int64_t n) {
    for (int64_t j = 0; j < n; ++j) {
      T av = a[off[2] + j * step[2]], bv = b[off[3] + j * step[3]], gv = g[off[4] + j * step[4]];
      // A tie sends half to each side (PyTorch's rule); a NaN side takes the whole gradient.
      T to_a = av > bv || av != av ? gv : (av == bv ? gv * T(0.5) : T(0));
      T to_b = bv > av || bv != bv ? gv : (av == bv ? gv * T(0.5) : T(0));
      ga[off[0] + j * step[0]] = to_a;
      gb[off[1] + j * step[1]] = to_b;
    }
  });
}

}  // namespace

void Add(const KernelArgs& args) {
  Zip(args, [](auto a, auto b) { return a + b; });
}
void Sub(const KernelArgs& args) {
  Zip(args, [](auto a, auto b) { return a - b; });
}
void Mul(const KernelArgs& args) {
  Zip(args, [](auto a, auto b) { return a * b; });
}
void Div(const KernelArgs& args) {
  Zip(args, [](auto a, auto b) { return a / b; });
}
void Maximum(const KernelArgs& args) {
  // NaN propagates from either side (torch.maximum); a tie returns a.
  Zip(args, [](auto a, auto b) { return a > b || a != a ? a : (b != b ? b : (a < b ? b : a)); });
}

// in[0] = a, in[1] = b, in[2] = grad (all expanded to the output shape, any strides);
// out[0] = grad_a, out[1] = grad_b (contiguous, output shape; the op layer reduces them).
void MaximumBackward(const KernelArgs& args) {
  if (args.in[0].dtype == DType::kF64) {
    MaximumBackwardAs<double>(args);
  } else {
    MaximumBackwardAs<float>(args);
  }
}

}  // namespace kiln::cpu::KILN_ISA_NS
