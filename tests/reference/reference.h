// Naive f64 references for the op cases: plain loops over ToVector<double>() values, written for
// clarity, never calling the kernel under test. One .cc per op family.
#pragma once

#include <cstdint>
#include <vector>

#include "tensor/tensor.h"

namespace kiln::reference {

// Row-major values of x and its multi-index helpers.
std::vector<int64_t> Unravel(int64_t flat, const Shape& shape);
int64_t Ravel(const std::vector<int64_t>& index, const Shape& shape);
// Materializes any view as a new contiguous f64 tensor via per-element index arithmetic.
Tensor Values(const Tensor& x);

// Views.
Tensor Permute(const Tensor& x, const std::vector<int64_t>& dims);
Tensor Narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length);
Tensor Expand(const Tensor& x, const Shape& shape);

// Linear algebra: a (..., M, K) @ b (..., K, N) with optional transposes, batch dims equal or b 2-D.
Tensor Matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b);

}  // namespace kiln::reference
