// Op cases for the index rows: Gather (+ GatherBackward) and Embedding (+ EmbeddingBackward).
// Indices repeat on purpose, so the backward scatter-adds really sum; i32 and i64 index dtypes;
// transposed value tensors; one embedding case above the kernels' parallel threshold.
#include "tests/ops/op_case.h"
#include "tests/reference/elementwise.h"
#include "tests/reference/reference.h"

namespace kiln::testing {
namespace {

using Inputs = std::vector<Tensor>;

// Deterministic indices in [0, n) with repeats.
Tensor Indices(const Shape& shape, int64_t n, DType dtype, int64_t mul = 7, int64_t add = 3) {
  return TensorFromFn(
      shape, [=](int64_t i) { return static_cast<double>((i * mul + add) % n); }, dtype);
}

}  // namespace

KILN_OP_CASES(IndexCases) {
  std::vector<OpCase> cases;
  const std::vector<Op> gather = {Op::kGather, Op::kGatherBackward};
  const std::vector<Op> embedding = {Op::kEmbedding, Op::kEmbeddingBackward};

  cases.push_back({.name = "Gather/dim0_i64",
                   .covers = gather,
                   .make_inputs =
                       [] {
                         return Inputs{RandnF64({5, 7}, 40), Indices({9, 6}, 5, DType::kI64)};
                       },
                   .run = [](const Inputs& x) { return Gather(x[0], 0, x[1]); },
                   .reference = [](const Inputs& x) { return reference::Gather(x[0], 0, x[1]); }});
  cases.push_back({.name = "Gather/last_dim_i32_transposed",
                   .covers = gather,
                   .make_inputs =
                       [] {
                         return Inputs{ops::Transpose(RandnF64({37, 3}, 41), 0, 1),
                                       Indices({3, 50}, 37, DType::kI32, 11, 5)};
                       },
                   .run = [](const Inputs& x) { return Gather(x[0], -1, x[1]); },
                   .reference = [](const Inputs& x) { return reference::Gather(x[0], 1, x[1]); }});
  cases.push_back(
      {.name = "Gather/middle_dim_3d_strided_index",
       .covers = gather,
       .make_inputs =
           [] {
             Tensor idx = ops::Transpose(Indices({13, 4, 2}, 13, DType::kI64, 5, 1), 0, 1);
             return Inputs{RandnF64({4, 13, 3}, 42), idx};  // index (4, 13, 2)
           },
       .run = [](const Inputs& x) { return Gather(x[0], 1, x[1]); },
       .reference = [](const Inputs& x) { return reference::Gather(x[0], 1, x[1]); }});
  cases.push_back(
      {.name = "Gather/threaded",
       .covers = gather,
       .make_inputs =
           [] {
             return Inputs{RandnF64({23, 101}, 43), Indices({23, 110}, 101, DType::kI32, 17, 2)};
           },
       .run = [](const Inputs& x) { return Gather(x[0], 1, x[1]); },
       .reference = [](const Inputs& x) { return reference::Gather(x[0], 1, x[1]); }});

  cases.push_back({.name = "Embedding/i64_2d_ids",
                   .covers = embedding,
                   .make_inputs =
                       [] {
                         return Inputs{RandnF64({11, 13}, 44), Indices({2, 7}, 11, DType::kI64)};
                       },
                   .run = [](const Inputs& x) { return Embedding(x[0], x[1]); },
                   .reference = [](const Inputs& x) { return reference::Embedding(x[0], x[1]); }});
  cases.push_back({.name = "Embedding/i32_transposed_weight",
                   .covers = embedding,
                   .make_inputs =
                       [] {
                         return Inputs{ops::Transpose(RandnF64({37, 7}, 45), 0, 1),
                                       Indices({19}, 7, DType::kI32, 3, 0)};
                       },
                   .run = [](const Inputs& x) { return Embedding(x[0], x[1]); },
                   .reference = [](const Inputs& x) { return reference::Embedding(x[0], x[1]); }});
  cases.push_back(
      {.name = "Embedding/threaded_wide",
       .covers = embedding,
       .make_inputs =
           [] {
             return Inputs{RandnF64({13, 90}, 46), Indices({3, 9}, 13, DType::kI64, 5, 1)};
           },
       .run = [](const Inputs& x) { return Embedding(x[0], x[1]); },
       .reference = [](const Inputs& x) { return reference::Embedding(x[0], x[1]); }});
  return cases;
}

}  // namespace kiln::testing
