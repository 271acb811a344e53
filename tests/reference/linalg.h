// Naive f64 references for Matmul and Attention.
#pragma once

#include "tensor/tensor.h"

namespace kiln::reference {

// Causal attention with materialized scores: q (B, NH, Tq, HS), k / v (B, NKV, Tk, HS), doc (B, Tk)
// or undefined. Query i sits at Tk - Tq + i and sees keys j <= that position in its document run.
Tensor Attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& doc,
                 double scale);

}  // namespace kiln::reference
