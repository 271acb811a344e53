#include "autograd/grad_mode.h"

#include "base/check.h"
#include "tensor/tensor.h"

namespace kiln {
namespace {
thread_local bool g_grad_enabled = true;
thread_local DType g_autocast = DType::kF32;
}  // namespace

bool GradEnabled() { return g_grad_enabled; }
void SetGradEnabled(bool enabled) { g_grad_enabled = enabled; }

DType AutocastDtype() { return g_autocast; }
void SetAutocastDtype(DType dtype) {
  KILN_CHECK(dtype == DType::kF32 || dtype == DType::kBF16)
      << "autocast: the GEMM operand dtype must be f32 (off) or bf16, got " << DTypeName(dtype);
  g_autocast = dtype;
}

}  // namespace kiln
