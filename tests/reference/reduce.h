// Naive f64 references for the reduction rows (tests/ops/reduce_cases.cc): values grouped by
// multi-index, then reduced with plain double loops and the C library's exp / log. They never
// call the kernels under test.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "tensor/tensor.h"

namespace kiln::reference {

// Applies fn to the values of each output group of a reduction of x over `dims` (empty = all),
// groups in output order, values in row-major order of x.
Tensor Reduce(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim,
              const std::function<double(const std::vector<double>&)>& fn,
              DType dtype = DType::kF64);
Tensor Sum(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim);
Tensor Mean(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim);
Tensor Max(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim);
Tensor Argmax(const Tensor& x, int64_t dim, bool keepdim);  // i64; first max, NaN is max
Tensor Logsumexp(const Tensor& x, const std::vector<int64_t>& dims, bool keepdim);
Tensor Softmax(const Tensor& x, int64_t dim);
Tensor LogSoftmax(const Tensor& x, int64_t dim);
// grad of Max over dims, split evenly among ties (grad has the Max output's shape).
Tensor MaxBackward(const Tensor& x, const Tensor& grad, const std::vector<int64_t>& dims,
                   bool keepdim);

}  // namespace kiln::reference
