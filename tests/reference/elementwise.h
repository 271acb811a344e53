// Naive f64 references for the elementwise, data-movement and index rows (tests/ops/
// elementwise_cases.cc, index_cases.cc): plain loops over ToVector<double>() values and
// multi-indices, written for clarity; they never call the kernels under test.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "tensor/tensor.h"

namespace kiln::reference {

// y[i] = fn(x[i]).
Tensor Map(const Tensor& x, const std::function<double(double)>& fn);
// Numpy broadcasting of a and b, then fn elementwise.
Tensor Zip(const Tensor& a, const Tensor& b, const std::function<double(double, double)>& fn);
// cond != 0 ? a : b with broadcasting of all three.
Tensor Where(const Tensor& cond, const Tensor& a, const Tensor& b);

// Scalar formulas.
double Sigmoid(double x);
double Gelu(double x);  // tanh approximation
double Silu(double x);
// Rounds to `bits` significant bits (ties to even), with a fixed quantum below 2^(min_exp - 1):
// bf16 is (8, -125), f16 is (11, -13). Goes through f32 first, as kiln's Cast does.
double RoundToBits(double x, int bits, int min_exp);

Tensor Concat(const std::vector<Tensor>& xs, int64_t dim);
// torch.gather.
Tensor Gather(const Tensor& x, int64_t dim, const Tensor& index);
// weight (V, C), ids (...) -> (..., C).
Tensor Embedding(const Tensor& weight, const Tensor& ids);
// Recomputes the Philox mask element by element.
Tensor Dropout(const Tensor& x, double p, uint64_t seed, uint64_t offset);

}  // namespace kiln::reference
