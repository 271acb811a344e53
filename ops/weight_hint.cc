// The op layer's side of ops/weight_hint.h: when a weight may be cached in derived form.
#include <cstdlib>
#include <cstring>

#include "ops/dispatch.h"
#include "ops/weight_hint.h"

namespace kiln::ops {
namespace {

bool PackingEnabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("KILN_PACK_WEIGHTS");
    return v == nullptr || std::strcmp(v, "0") != 0;
  }();
  return enabled;
}

}  // namespace

void SetWeightHint(KernelArgs& args, int base, const Tensor& weight, bool stable) {
  args.iattr[base] = 0;
  if (!stable || weight.dtype() != DType::kF32 ||
      weight.device().type != Device::kCPU || !PackingEnabled()) {
    return;
  }
  weight.storage()->NotifyOnRelease();
  args.iattr[base] = 1;
  args.iattr[base + 1] = static_cast<int64_t>(weight.storage()->id());
  args.iattr[base + 2] = weight.storage()->version();
}

}  // namespace kiln::ops
