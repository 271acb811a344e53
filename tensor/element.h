// Element-wise reads and writes with dtype conversion, and an N-d strided walk. Used by the tensor
// core's generic (slow but exact) paths: printing, fills, copies, factories, test references.
#pragma once

#include <cstdint>

#include "tensor/dtype.h"
#include "tensor/half.h"
#include "tensor/shape.h"

namespace kiln {

template <typename T>
T ReadElement(const void* p, DType dt) {
  switch (dt) {
    case DType::kF32: return static_cast<T>(*static_cast<const float*>(p));
    case DType::kF64: return static_cast<T>(*static_cast<const double*>(p));
    case DType::kBF16: return static_cast<T>(Bf16BitsToFloat(*static_cast<const uint16_t*>(p)));
    case DType::kF16: return static_cast<T>(HalfBitsToFloat(*static_cast<const uint16_t*>(p)));
    case DType::kI32: return static_cast<T>(*static_cast<const int32_t*>(p));
    case DType::kI64: return static_cast<T>(*static_cast<const int64_t*>(p));
    case DType::kU8: return static_cast<T>(*static_cast<const uint8_t*>(p));
    case DType::kBool: return static_cast<T>(*static_cast<const uint8_t*>(p) != 0);
  }
  return T();
}

template <typename T>
void WriteElement(void* p, DType dt, T v) {
  switch (dt) {
    case DType::kF32: *static_cast<float*>(p) = static_cast<float>(v); break;
    case DType::kF64: *static_cast<double*>(p) = static_cast<double>(v); break;
    case DType::kBF16:
      *static_cast<uint16_t*>(p) = FloatToBf16Bits(static_cast<float>(v));
      break;
    case DType::kF16:
      *static_cast<uint16_t*>(p) = FloatToHalfBits(static_cast<float>(v));
      break;
    case DType::kI32: *static_cast<int32_t*>(p) = static_cast<int32_t>(v); break;
    case DType::kI64: *static_cast<int64_t*>(p) = static_cast<int64_t>(v); break;
    case DType::kU8: *static_cast<uint8_t*>(p) = static_cast<uint8_t>(v); break;
    case DType::kBool: *static_cast<uint8_t*>(p) = v != T(0) ? 1 : 0; break;
  }
}

// Calls fn(element_offset) for every index of `sizes` in row-major order.
template <typename Fn>
void ForEachOffset(const Shape& sizes, const Shape& strides, int64_t offset, Fn&& fn) {
  int64_t n = NumElements(sizes);
  if (n == 0) return;
  int64_t nd = static_cast<int64_t>(sizes.size());
  int64_t idx[16] = {0};
  int64_t off = offset;
  for (int64_t i = 0; i < n; ++i) {
    fn(off);
    for (int64_t d = nd - 1; d >= 0; --d) {
      if (++idx[d] < sizes[d]) {
        off += strides[d];
        break;
      }
      off -= strides[d] * (sizes[d] - 1);
      idx[d] = 0;
    }
  }
}

}  // namespace kiln
