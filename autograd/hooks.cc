#include "autograd/hooks.h"

#include "autograd/node.h"
#include "base/check.h"

namespace kiln {

void RegisterGradHook(const Tensor& t, GradHook hook) {
  KILN_CHECK(t.defined()) << "RegisterGradHook: undefined tensor";
  AutogradMeta* meta = t.autograd_meta();
  KILN_CHECK(meta != nullptr && meta->requires_grad && meta->grad_fn)
      << "RegisterGradHook: the tensor is not the output of a recorded op (a leaf, or grad mode "
         "was off, or no input requires grad)";
  auto& hooks = meta->grad_fn->output_hooks;
  if (hooks.size() < static_cast<size_t>(meta->grad_fn->num_outputs)) {
    hooks.resize(meta->grad_fn->num_outputs);
  }
  hooks[meta->output_nr].push_back(std::move(hook));
}

}  // namespace kiln
