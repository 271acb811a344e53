#include "nn/fusion.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "base/check.h"

namespace kiln::nn {

Fusion ParseUnfuse(const char* value) {
  Fusion f;
  if (value == nullptr || *value == '\0') return f;
  const std::vector<std::string> names = absl::StrSplit(value, absl::ByAnyChar(",+"));
  for (const std::string& name : names) {
    if (name == "all") {
      f = Fusion{false, false, false, false, false};
    } else if (name == "ce") {
      f.ce = false;
    } else if (name == "linear") {
      f.linear = false;
    } else if (name == "norm") {
      f.norm = false;
    } else if (name == "qkv") {
      f.qkv = false;
    } else if (name == "swiglu") {
      f.swiglu = false;
    } else {
      KILN_CHECK(false) << "KILN_UNFUSE: unknown fused path '" << name
                        << "' (expected a comma-separated list of ce, linear, norm, qkv, swiglu, "
                           "all)";
    }
  }
  return f;
}

namespace {
Fusion& Active() {
  static Fusion f = ParseUnfuse(std::getenv("KILN_UNFUSE"));
  return f;
}
}  // namespace

const Fusion& ActiveFusion() { return Active(); }
void SetFusion(const Fusion& f) { Active() = f; }

}  // namespace kiln::nn
