// Shapes and strides: small inlined vectors of int64 (row-major, last dim fastest), and the helpers
// every op uses to check and normalize dims.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include "absl/container/inlined_vector.h"

namespace kiln {

using Shape = absl::InlinedVector<int64_t, 6>;

int64_t NumElements(const Shape& shape);
Shape ContiguousStrides(const Shape& shape);
std::string ShapeToString(const Shape& shape);  // "(2, 3, 4)"
// Maps a possibly negative dim into [0, ndim); throws kiln::Error naming `op` when out of range.
int64_t NormalizeDim(int64_t dim, int64_t ndim, const char* op);
// Broadcast of two shapes (numpy rules); throws naming `op` and both shapes when incompatible.
Shape BroadcastShapes(const Shape& a, const Shape& b, const char* op);

}  // namespace kiln
