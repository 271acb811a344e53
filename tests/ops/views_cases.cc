// Op cases for the VIEW rows (Reshape, Permute, Narrow, Expand).
#include "tests/ops/op_case.h"
#include "tests/reference/reference.h"

namespace kiln::testing {

KILN_OP_CASES(ViewCases) {
  std::vector<OpCase> cases;
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
