#include "cuda/versions.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>

#include "base/check.h"

namespace kiln::cuda_versions {
namespace {

constexpr const char* kNames[kNumKernelOps] = {"attention", "matmul"};

std::atomic<int> g_version[kNumKernelOps] = {1, 1};
std::once_flag g_env_once;

// Parses KILN_CUDA_KERNELS once. A throw leaves the once_flag unset, so every later call reports
// the same error instead of silently running the defaults.
void LoadEnvironmentOnce() {
  std::call_once(g_env_once, [] {
    const char* env = std::getenv("KILN_CUDA_KERNELS");
    const KernelVersions v = ParseKernelVersions(env == nullptr ? "" : env);
    for (int i = 0; i < kNumKernelOps; ++i) g_version[i].store(v.version[i]);
  });
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

}  // namespace

const char* KernelOpName(KernelOp op) { return kNames[static_cast<int>(op)]; }

KernelVersions ParseKernelVersions(std::string_view spec) {
  KernelVersions out;
  bool seen[kNumKernelOps] = {};
  const std::string all(spec);
  size_t pos = 0;
  while (pos <= spec.size()) {
    const size_t comma = std::min(spec.find(',', pos), spec.size());
    const std::string_view item = Trim(spec.substr(pos, comma - pos));
    pos = comma + 1;
    if (item.empty()) {
      KILN_CHECK(Trim(spec).empty())
          << "KILN_CUDA_KERNELS: empty entry in '" << all << "' (expected op=vN[,op=vN...])";
      break;
    }
    const size_t eq = item.find('=');
    KILN_CHECK(eq != std::string_view::npos) << "KILN_CUDA_KERNELS: expected op=vN, got '"
                                             << std::string(item) << "' in '" << all << "'";
    const std::string name(Trim(item.substr(0, eq)));
    const std::string value(Trim(item.substr(eq + 1)));
    int op = -1;
    for (int i = 0; i < kNumKernelOps; ++i) op = name == kNames[i] ? i : op;
    KILN_CHECK(op >= 0) << "KILN_CUDA_KERNELS: unknown op '" << name << "' in '" << all
                        << "' (ops: attention, matmul)";
    KILN_CHECK(!seen[op]) << "KILN_CUDA_KERNELS: " << name << " given twice in '" << all << "'";
    seen[op] = true;
    const std::string digits = !value.empty() && value[0] == 'v' ? value.substr(1) : value;
    int version = 0;
    if (digits.size() == 1 && digits[0] >= '1' && digits[0] <= '0' + kMaxVersion) {
      version = digits[0] - '0';
    }
    KILN_CHECK(version > 0) << "KILN_CUDA_KERNELS: unknown version '" << value << "' for " << name
                            << " in '" << all << "' (versions: v1, v2)";
    out.version[op] = version;
  }
  return out;
}

int KernelVersion(KernelOp op) {
  LoadEnvironmentOnce();
  return g_version[static_cast<int>(op)].load(std::memory_order_relaxed);
}

void SetKernelVersion(KernelOp op, int version) {
  KILN_CHECK(version >= 1 && version <= kMaxVersion)
      << "SetKernelVersion: " << KernelOpName(op) << " has versions 1.." << kMaxVersion << ", got "
      << version;
  LoadEnvironmentOnce();  // so a later first read of the environment cannot undo this
  g_version[static_cast<int>(op)].store(version);
}

std::string FormatKernelVersions(const KernelVersions& v) {
  std::string s;
  for (int i = 0; i < kNumKernelOps; ++i) {
    s += (i == 0 ? "" : ",") + std::string(kNames[i]) + "=v" + std::to_string(v.version[i]);
  }
  return s;
}

KernelVersions CurrentKernelVersions() {
  KernelVersions v;
  for (int i = 0; i < kNumKernelOps; ++i) v.version[i] = KernelVersion(static_cast<KernelOp>(i));
  return v;
}

}  // namespace kiln::cuda_versions
