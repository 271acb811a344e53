// Op cases for the VIEW rows (Reshape, Permute, Narrow, Expand).
#include "tests/ops/op_case.h"
#include "tests/reference/reference.h"

namespace kiln::testing {

KILN_OP_CASES(ViewCases) {
  std::vector<OpCase> cases;
  // Unbind: every slice (all gradients defined) and one slice (the others' zero-filled).
  cases.push_back({
      .name = "Unbind/all_slices",
      .covers = {Op::kUnbind},
      .make_inputs = [] { return std::vector<Tensor>{RandnF64({2, 3, 4}, 5)}; },
      .run = [](const std::vector<Tensor>& x) {
        std::vector<Tensor> s = Unbind(x[0], 1);
        return Concat({MulScalar(s[0], 2.0), s[1], MulScalar(s[2], -3.0)}, 1);
      },
      .reference = [](const std::vector<Tensor>& x) {
        std::vector<double> v = x[0].ToVector<double>();
        // out (2, 12): [2 x[:,0,:], x[:,1,:], -3 x[:,2,:]]
        return TensorFromFn({2, 12}, [&](int64_t i) {
          const int64_t b = i / 12, j = (i % 12) / 4, c = i % 4;
          const double f = j == 0 ? 2.0 : (j == 1 ? 1.0 : -3.0);
          return f * v[b * 12 + j * 4 + c];
        });
      },
  });
  cases.push_back({
      .name = "Unbind/one_slice_strided",
      .covers = {Op::kUnbind},
      .make_inputs = [] { return std::vector<Tensor>{ops::Transpose(RandnF64({4, 3, 5}, 6), 0, 2)}; },
      .run = [](const std::vector<Tensor>& x) { return Unbind(x[0], -1)[2]; },
      .reference = [](const std::vector<Tensor>& x) {
        return ops::Reshape(reference::Narrow(x[0], 2, 2, 1), {5, 3});
      },
  });
  cases.push_back({
      .name = "Reshape/non_contiguous",
      .covers = {Op::kReshape},
      .make_inputs = [] { return std::vector<Tensor>{ops::Transpose(RandnF64({3, 5}, 1), 0, 1)}; },
      // Through Mul so the gradient is not a plain copy of w.
      .run = [](const std::vector<Tensor>& x) { return Reshape(x[0], {15}); },
      .reference =
          [](const std::vector<Tensor>& x) { return Reshape(reference::Values(x[0]), {15}); },
  });
  cases.push_back({
      .name = "Reshape/squeeze_unsqueeze_infer",
      .covers = {Op::kReshape},
      .make_inputs = [] { return std::vector<Tensor>{RandnF64({2, 1, 7}, 2)}; },
      .run = [](const std::vector<Tensor>& x) {
        return Unsqueeze(View(Squeeze(x[0], 1), {-1, 2}), 0);
      },
      .reference =
          [](const std::vector<Tensor>& x) { return ops::View(reference::Values(x[0]), {1, 7, 2}); },
  });
  cases.push_back({
      .name = "Permute/3d",
      .covers = {Op::kPermute},
      .make_inputs = [] { return std::vector<Tensor>{RandnF64({2, 3, 5}, 3)}; },
      .run = [](const std::vector<Tensor>& x) { return Permute(x[0], {2, 0, 1}); },
      .reference = [](const std::vector<Tensor>& x) { return reference::Permute(x[0], {2, 0, 1}); },
  });
  cases.push_back({
      .name = "Narrow/middle_and_split",
      .covers = {Op::kNarrow},
      .make_inputs = [] { return std::vector<Tensor>{RandnF64({4, 7}, 4)}; },
      .run = [](const std::vector<Tensor>& x) { return Split(x[0], {2, 3, 2}, 1)[1]; },
      .reference = [](const std::vector<Tensor>& x) { return reference::Narrow(x[0], 1, 2, 3); },
  });
  cases.push_back({
      .name = "Expand/broadcast_leading_and_ones",
      .covers = {Op::kExpand},
      .make_inputs = [] { return std::vector<Tensor>{RandnF64({3, 1}, 5)}; },
      .run = [](const std::vector<Tensor>& x) { return Expand(x[0], {2, 3, 4}); },
      .reference = [](const std::vector<Tensor>& x) { return reference::Expand(x[0], {2, 3, 4}); },
  });
  return cases;
}

}  // namespace kiln::testing
