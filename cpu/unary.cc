// CPU kernels of the unary elementwise rows (Neg ... MulScalar), f32 and f64. Each output element
// is a pure function of one input element written with kiln's own kmath (never the C library), so
// every ISA path and thread count gives the same bits; the strided walk only splits the work.
#include <cmath>
#include <cstdint>

#include "base/kmath.h"
#include "cpu/elementwise.h"
#include "cpu/kernels.h"
#include "tensor/dtype.h"

namespace kiln::cpu::KILN_ISA_NS {
namespace {

// in[0] = x (any strides), out[0] = y (contiguous, same shape), fattr[0] = the scalar of
// AddScalar / MulScalar.
template <typename T, typename F>
void MapAs(const KernelArgs& args, F f) {
  T* y = static_cast<T*>(args.out[0].data);
  const T* x = static_cast<const T*>(args.in[0].data);
  const KArray* const ops[2] = {&args.out[0], &args.in[0]};
  ForEachPiece(MakeLoop<2>(ops), [&](const int64_t* off, const int64_t* step, int64_t n) {
    T* yp = y + off[0];
    const T* xp = x + off[1];
    if (step[0] == 1 && step[1] == 1) {
      for (int64_t j = 0; j < n; ++j) yp[j] = f(xp[j]);
    } else {
      for (int64_t j = 0; j < n; ++j) yp[j * step[0]] = f(xp[j * step[1]]);
    }
  });
}

// Instantiates MapAs for f32 and f64 with one generic lambda.
template <typename F>
void Map(const KernelArgs& args, F f) {
  if (args.in[0].dtype == DType::kF64) {
    MapAs<double>(args, f);
  } else {
    MapAs<float>(args, f);
  }
}

template <typename T>
inline T GeluOf(T x) {
  const T k0 = T(0.7978845608028654);  // sqrt(2 / pi)
  const T k1 = T(0.044715);
  T u = k0 * (x + k1 * (x * x * x));
  return T(0.5) * x * (T(1) + kmath::Tanh(u));
}

}  // namespace

void Neg(const KernelArgs& args) {
  Map(args, [](auto x) { return -x; });
}
void Exp(const KernelArgs& args) {
  Map(args, [](auto x) { return kmath::Exp(x); });
}
void Log(const KernelArgs& args) {
  Map(args, [](auto x) { return kmath::Log(x); });
}
void Sqrt(const KernelArgs& args) {
  Map(args, [](auto x) { return std::sqrt(x); });  // IEEE exact on every path
}
void Rsqrt(const KernelArgs& args) {
  Map(args, [](auto x) { return decltype(x)(1) / std::sqrt(x); });
}
void Tanh(const KernelArgs& args) {
  Map(args, [](auto x) { return kmath::Tanh(x); });
}
void Sigmoid(const KernelArgs& args) {
  Map(args, [](auto x) { return kmath::Sigmoid(x); });
}
void Relu(const KernelArgs& args) {
  // NaN passes through (NaN < 0 is false), as in PyTorch.
  Map(args, [](auto x) { return x < decltype(x)(0) ? decltype(x)(0) : x; });
}
void Gelu(const KernelArgs& args) {
  Map(args, [](auto x) { return GeluOf(x); });
}
void Silu(const KernelArgs& args) {
  Map(args, [](auto x) { return x * kmath::Sigmoid(x); });
}
void AddScalar(const KernelArgs& args) {
  const double s = args.fattr[0];
  Map(args, [s](auto x) { return x + static_cast<decltype(x)>(s); });
}
void MulScalar(const KernelArgs& args) {
  const double s = args.fattr[0];
  Map(args, [s](auto x) { return x * static_cast<decltype(x)>(s); });
}

}  // namespace kiln::cpu::KILN_ISA_NS
