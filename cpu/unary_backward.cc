// CPU kernel of UnaryBackward: grad_x of a unary row in one fused pass over (x, y, grad_y), so a
// backward reads each tensor once instead of chaining three or four elementwise ops. The row is
// chosen per call (iattr[0]); each element's arithmetic is fixed, so the bits do not depend on
// the thread count or the ISA path.
#include <cmath>
#include <cstdint>

#include "base/kmath.h"
#include "cpu/elementwise.h"
#include "cpu/kernels.h"
#include "ops/op_enum.h"
#include "tensor/dtype.h"

namespace kiln::cpu::KILN_ISA_NS {
namespace {

template <typename T, typename F>
void Map3As(const KernelArgs& args, F f) {
  T* gx = static_cast<T*>(args.out[0].data);
  const T* x = static_cast<const T*>(args.in[0].data);
  const T* y = static_cast<const T*>(args.in[1].data);
  const T* g = static_cast<const T*>(args.in[2].data);
  const KArray* const ops[4] = {&args.out[0], &args.in[0], &args.in[1], &args.in[2]};
  ForEachPiece(MakeLoop<4>(ops), [&](const int64_t* off, const int64_t* step, int64_t n) {
    T* gxp = gx + off[0];
    const T* xp = x + off[1];
    const T* yp = y + off[2];
    const T* gp = g + off[3];
    if (step[0] == 1 && step[1] == 1 && step[2] == 1 && step[3] == 1) {
      for (int64_t j = 0; j < n; ++j) gxp[j] = f(xp[j], yp[j], gp[j]);
    } else {
      for (int64_t j = 0; j < n; ++j) {
        gxp[j * step[0]] = f(xp[j * step[1]], yp[j * step[2]], gp[j * step[3]]);
      }
    }
  });
}

template <typename T>
void UnaryBackwardAs(const KernelArgs& args) {
  switch (static_cast<Op>(args.iattr[0])) {
    case Op::kNeg:
      Map3As<T>(args, [](T, T, T g) { return -g; });
      break;
    case Op::kExp:
      Map3As<T>(args, [](T, T y, T g) { return g * y; });
      break;
    case Op::kLog:
      Map3As<T>(args, [](T x, T, T g) { return g / x; });
      break;
    case Op::kSqrt:
      Map3As<T>(args, [](T, T y, T g) { return g * T(0.5) / y; });
      break;
    case Op::kRsqrt:  // d/dx x^-1/2 = -1/2 x^-3/2 = -1/2 y^3
      Map3As<T>(args, [](T, T y, T g) { return g * (T(-0.5) * (y * y * y)); });
      break;
    case Op::kTanh:
      Map3As<T>(args, [](T, T y, T g) { return g * (T(1) - y * y); });
      break;
    case Op::kSigmoid:
      Map3As<T>(args, [](T, T y, T g) { return g * (y * (T(1) - y)); });
      break;
    case Op::kRelu:
      Map3As<T>(args, [](T x, T, T g) { return x > T(0) ? g : T(0); });
      break;
    case Op::kGelu:
      // y = x/2 (1 + t), t = tanh(u), u = k0 (x + k1 x^3):
      // dy/dx = (1 + t)/2 + x/2 (1 - t^2) k0 (1 + 3 k1 x^2).
      Map3As<T>(args, [](T x, T, T g) {
        const T k0 = T(0.7978845608028654);
        const T k1 = T(0.044715);
        T x2 = x * x;
        T t = kmath::Tanh(k0 * (x + k1 * (x2 * x)));
        T du = k0 * (T(1) + T(3) * k1 * x2);
        T d = T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * du;
        return g * d;
      });
      break;
    case Op::kSilu:
      // d/dx x s(x) = s (1 + x (1 - s)).
      Map3As<T>(args, [](T x, T, T g) {
        T s = kmath::Sigmoid(x);
        return g * (s * (T(1) + x * (T(1) - s)));
      });
      break;
    default:
      break;  // the op layer rejects every other row before the call
  }
}

}  // namespace

// in[0] = x, in[1] = y, in[2] = grad_y (same shape, any strides; the op layer passes grad_y in a
// slot the row does not read), out[0] = grad_x (contiguous), iattr[0] = the forward's Op.
void UnaryBackward(const KernelArgs& args) {
  if (args.in[2].dtype == DType::kF64) {
    UnaryBackwardAs<double>(args);
  } else {
    UnaryBackwardAs<float>(args);
  }
}

}  // namespace kiln::cpu::KILN_ISA_NS
