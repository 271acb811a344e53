// Box-Muller on Philox bits with kiln's own log / sin / cos (bits independent of libm).
#include "base/rng.h"

#include "base/kmath.h"

namespace kiln {

double NormalFromBlock(const Philox4x32& block) {
  double u1 = UniformDoubleFromBits(block.v[0], block.v[1]);  // (0, 1]
  double u2 = UniformDoubleFromBits(block.v[2], block.v[3]);
  double radius = __builtin_sqrt(-2.0 * kmath::Log(u1));
  return radius * kmath::Cos(6.28318530717958647692 * u2);
}

}  // namespace kiln
