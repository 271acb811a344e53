// CPU kernel of Cast: every pair of the 8 dtypes. Floating sources are read exactly as double,
// integer / mask sources exactly as int64, then converted once to the target: bf16 / f16 through
// f32 with kiln's integer round-to-nearest-even (tensor/half.h), floating -> integer truncates
// toward zero and saturates (NaN -> 0) so no input is undefined behaviour, integer -> integer
// wraps (two's complement), anything -> bool is "!= 0".
#include <cstdint>

#include "cpu/elementwise.h"
#include "cpu/kernels.h"
#include "tensor/dtype.h"
#include "tensor/half.h"

namespace kiln::cpu::KILN_ISA_NS {
namespace {

template <typename I>
inline I SaturateFromDouble(double v, double lo, double hi) {
  if (!(v == v)) return I(0);
  if (v <= lo) return static_cast<I>(lo);
  if (v >= hi) return static_cast<I>(hi);
  return static_cast<I>(v);  // truncates toward zero
}

// Destination writers from an exact double (floating sources).
template <DType D>
inline void StoreDouble(void* p, double v) {
  if constexpr (D == DType::kF32) {
    *static_cast<float*>(p) = static_cast<float>(v);
  } else if constexpr (D == DType::kF64) {
    *static_cast<double*>(p) = v;
  } else if constexpr (D == DType::kBF16) {
    *static_cast<uint16_t*>(p) = FloatToBf16Bits(static_cast<float>(v));
  } else if constexpr (D == DType::kF16) {
    *static_cast<uint16_t*>(p) = FloatToHalfBits(static_cast<float>(v));
  } else if constexpr (D == DType::kI32) {
    *static_cast<int32_t*>(p) = SaturateFromDouble<int32_t>(v, -2147483648.0, 2147483647.0);
  } else if constexpr (D == DType::kI64) {
    // 2^63 is not an int64; the largest double below it is 2^63 - 1024.
    *static_cast<int64_t*>(p) =
        v >= 9223372036854775807.0 ? INT64_MAX
                                   : SaturateFromDouble<int64_t>(v, -9223372036854775808.0,
                                                                 9223372036854774784.0);
  } else if constexpr (D == DType::kU8) {
    *static_cast<uint8_t*>(p) = SaturateFromDouble<uint8_t>(v, 0.0, 255.0);
  } else {
    *static_cast<uint8_t*>(p) = v != 0.0 ? 1 : 0;
  }
}

// Destination writers from an exact int64 (integer and mask sources).
template <DType D>
inline void StoreInt(void* p, int64_t v) {
  if constexpr (D == DType::kF32) {
    *static_cast<float*>(p) = static_cast<float>(v);
  } else if constexpr (D == DType::kF64) {
    *static_cast<double*>(p) = static_cast<double>(v);
  } else if constexpr (D == DType::kBF16) {
    *static_cast<uint16_t*>(p) = FloatToBf16Bits(static_cast<float>(v));
  } else if constexpr (D == DType::kF16) {
    *static_cast<uint16_t*>(p) = FloatToHalfBits(static_cast<float>(v));
  } else if constexpr (D == DType::kI32) {
    *static_cast<int32_t*>(p) = static_cast<int32_t>(v);
  } else if constexpr (D == DType::kI64) {
    *static_cast<int64_t*>(p) = v;
  } else if constexpr (D == DType::kU8) {
    *static_cast<uint8_t*>(p) = static_cast<uint8_t>(v);
  } else {
    *static_cast<uint8_t*>(p) = v != 0 ? 1 : 0;
  }
}

template <DType S, DType D>
inline void StoreConverted(const char* src, char* dst) {
  if constexpr (S == DType::kF32) {
    StoreDouble<D>(dst, static_cast<double>(*reinterpret_cast<const float*>(src)));
  } else if constexpr (S == DType::kF64) {
    StoreDouble<D>(dst, *reinterpret_cast<const double*>(src));
  } else if constexpr (S == DType::kBF16) {
    StoreDouble<D>(dst, static_cast<double>(
                            Bf16BitsToFloat(*reinterpret_cast<const uint16_t*>(src))));
  } else if constexpr (S == DType::kF16) {
    StoreDouble<D>(dst, static_cast<double>(
                            HalfBitsToFloat(*reinterpret_cast<const uint16_t*>(src))));
  } else if constexpr (S == DType::kI32) {
    StoreInt<D>(dst, *reinterpret_cast<const int32_t*>(src));
  } else if constexpr (S == DType::kI64) {
    StoreInt<D>(dst, *reinterpret_cast<const int64_t*>(src));
  } else if constexpr (S == DType::kU8) {
    StoreInt<D>(dst, *reinterpret_cast<const uint8_t*>(src));
  } else {
    StoreInt<D>(dst, *reinterpret_cast<const uint8_t*>(src) != 0 ? 1 : 0);
  }
}

template <DType S, DType D>
void CastAs(const KArray& out, const KArray& in) {
  constexpr int64_t kIn = DTypeSize(S), kOut = DTypeSize(D);
  const char* src = static_cast<const char*>(in.data);
  char* dst = static_cast<char*>(out.data);
  const KArray* const ops[2] = {&out, &in};
  ForEachPiece(MakeLoop<2>(ops), [&](const int64_t* off, const int64_t* step, int64_t n) {
    for (int64_t j = 0; j < n; ++j) {
      StoreConverted<S, D>(src + (off[1] + j * step[1]) * kIn, dst + (off[0] + j * step[0]) * kOut);
    }
  });
}

template <DType S>
void CastFrom(const KArray& out, const KArray& in) {
  switch (out.dtype) {
    case DType::kF32: CastAs<S, DType::kF32>(out, in); break;
    case DType::kF64: CastAs<S, DType::kF64>(out, in); break;
    case DType::kBF16: CastAs<S, DType::kBF16>(out, in); break;
    case DType::kF16: CastAs<S, DType::kF16>(out, in); break;
    case DType::kI32: CastAs<S, DType::kI32>(out, in); break;
    case DType::kI64: CastAs<S, DType::kI64>(out, in); break;
    case DType::kU8: CastAs<S, DType::kU8>(out, in); break;
    case DType::kBool: CastAs<S, DType::kBool>(out, in); break;
  }
}

}  // namespace

// in[0] = x (any dtype, any strides), out[0] = y (contiguous, same shape, target dtype).
void Cast(const KernelArgs& args) {
  const KArray& in = args.in[0];
  const KArray& out = args.out[0];
  switch (in.dtype) {
    case DType::kF32: CastFrom<DType::kF32>(out, in); break;
    case DType::kF64: CastFrom<DType::kF64>(out, in); break;
    case DType::kBF16: CastFrom<DType::kBF16>(out, in); break;
    case DType::kF16: CastFrom<DType::kF16>(out, in); break;
    case DType::kI32: CastFrom<DType::kI32>(out, in); break;
    case DType::kI64: CastFrom<DType::kI64>(out, in); break;
    case DType::kU8: CastFrom<DType::kU8>(out, in); break;
    case DType::kBool: CastFrom<DType::kBool>(out, in); break;
  }
}

}  // namespace kiln::cpu::KILN_ISA_NS
