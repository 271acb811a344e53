// bf16 and f16 storage types with exact, round-to-nearest-even conversions written with integer
// operations (so the bits never depend on the compiler's or the CPU's conversion instructions).
#pragma once

#include <cstdint>

namespace kiln {

struct BFloat16 {
  uint16_t bits;
};
struct Half {
  uint16_t bits;
};

uint16_t FloatToBf16Bits(float f);
float Bf16BitsToFloat(uint16_t b);
uint16_t FloatToHalfBits(float f);
float HalfBitsToFloat(uint16_t h);

}  // namespace kiln
