// Element types. Compute kernels run in f32 and f64 (f64 exists for gradcheck); bf16 and f16 are
// storage types with casts; i32 / i64 hold indices; u8 / bool hold masks. Kept free of inline
// code so per-ISA kernel files can include it (see cpu/CMakeLists.txt).
#pragma once

#include <cstdint>

namespace kiln {

enum class DType : int32_t { kF32 = 0, kF64, kBF16, kF16, kI32, kI64, kU8, kBool };
inline constexpr int kNumDTypes = 8;

constexpr int64_t DTypeSize(DType t) {
  switch (t) {
    case DType::kF32: return 4;
    case DType::kF64: return 8;
    case DType::kBF16: return 2;
    case DType::kF16: return 2;
    case DType::kI32: return 4;
    case DType::kI64: return 8;
    case DType::kU8: return 1;
    case DType::kBool: return 1;
  }
  return 0;
}

constexpr bool IsFloating(DType t) {
  return t == DType::kF32 || t == DType::kF64 || t == DType::kBF16 || t == DType::kF16;
}
constexpr bool IsIndex(DType t) { return t == DType::kI32 || t == DType::kI64; }

}  // namespace kiln
