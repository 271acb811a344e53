#include "autograd/grad_mode.h"

namespace kiln {
namespace {
thread_local bool g_grad_enabled = true;
}  // namespace

bool GradEnabled() { return g_grad_enabled; }
void SetGradEnabled(bool enabled) { g_grad_enabled = enabled; }

}  // namespace kiln
