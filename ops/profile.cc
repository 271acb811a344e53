#include "ops/profile.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "tensor/dtype.h"

namespace kiln::ops {
namespace {

using Counter = OpProfile;

using Clock = std::chrono::steady_clock;

struct Profile {
  std::mutex mu;
  Counter ops[kNumOps];
  int64_t steps = 0;
  double step_seconds = 0;  // wall time of the marked steps
  Clock::time_point mark;
  bool marked = false;  // mark holds the start of the current step
};

Profile& Get() {
  static Profile* p = new Profile();  // never destroyed: the atexit printer may run late
  return *p;
}

std::atomic<int> g_state{-1};  // -1: not read from the environment yet

double Numel(const KArray& a) {
  if (a.data == nullptr) return 0;
  double n = 1;
  for (int d = 0; d < a.ndim; ++d) n *= static_cast<double>(a.sizes[d]);
  return n;
}

double Bytes(const KernelArgs& args) {
  double b = 0;
  for (int i = 0; i < args.n_in; ++i) b += Numel(args.in[i]) * DTypeSize(args.in[i].dtype);
  for (int i = 0; i < args.n_out; ++i) b += Numel(args.out[i]) * DTypeSize(args.out[i].dtype);
  return b;
}

// Visible (query, key) pairs of causal attention with Tq queries at the end of Tk keys.
double CausalPairs(double tq, double tk) { return tq * (tk - tq) + tq * (tq + 1) / 2; }

double Flops(Op op, const KernelArgs& args) {
  switch (op) {
    case Op::kMatmul: {
      const KArray& a = args.in[0];
      const KArray& out = args.out[0];
      if (a.ndim < 2 || out.ndim < 2) return 0;
      const double k = static_cast<double>(args.iattr[0] ? a.sizes[a.ndim - 2] : a.sizes[a.ndim - 1]);
      return 2.0 * Numel(out) * k;
    }
    case Op::kAttention:
    case Op::kAttentionBackward: {
      const KArray& q = args.in[0];
      const KArray& k = args.in[1];
      if (q.ndim != 4 || k.ndim != 4) return 0;
      const double f = 4.0 * q.sizes[0] * q.sizes[1] * q.sizes[3] *
                       CausalPairs(static_cast<double>(q.sizes[2]), static_cast<double>(k.sizes[2]));
      return op == Op::kAttention ? f : 2.5 * f;
    }
    case Op::kLinear:
      return 2.0 * Numel(args.in[0]) * static_cast<double>(args.in[1].sizes[0]);
    case Op::kLinearCrossEntropy:
    case Op::kLinearCrossEntropyBackward: {
      const double f = 2.0 * Numel(args.in[0]) * static_cast<double>(args.in[1].sizes[0]);
      return op == Op::kLinearCrossEntropy ? f : 3.0 * f;
    }
    case Op::kAdamW:
      return 12.0 * Numel(args.in[0]);
    default:
      return args.n_out > 0 ? Numel(args.out[0]) : 0;
  }
}

void PrintAtExit() { PrintProfile(stderr); }

}  // namespace

bool ProfilingEnabled() {
  int s = g_state.load(std::memory_order_relaxed);
  if (s < 0) {
    const char* env = std::getenv("KILN_PROFILE");
    SetProfiling(env != nullptr && env[0] != '\0' && std::strcmp(env, "0") != 0);
    s = g_state.load();
  }
  return s == 1;
}

void SetProfiling(bool on) {
  static std::once_flag once;
  if (on) std::call_once(once, [] { std::atexit(PrintAtExit); });
  g_state.store(on ? 1 : 0);
}

void RecordKernel(Op op, const KernelArgs& args, double seconds) {
  Profile& p = Get();
  std::lock_guard<std::mutex> lock(p.mu);
  Counter& c = p.ops[static_cast<int>(op)];
  c.calls += 1;
  c.seconds += seconds;
  c.flops += Flops(op, args);
  c.bytes += Bytes(args);
}

void ResetProfile() {
  if (!ProfilingEnabled()) return;
  Profile& p = Get();
  std::lock_guard<std::mutex> lock(p.mu);
  for (auto& c : p.ops) c = Counter();
  p.steps = 0;
  p.step_seconds = 0;
  p.mark = Clock::now();
  p.marked = true;
}

void ProfileStep() {
  if (!ProfilingEnabled()) return;
  Profile& p = Get();
  std::lock_guard<std::mutex> lock(p.mu);
  const Clock::time_point now = Clock::now();
  if (p.marked) {
    p.step_seconds += std::chrono::duration<double>(now - p.mark).count();
    ++p.steps;
  }
  p.mark = now;
  p.marked = true;
}

OpProfile GetOpProfile(Op op) {
  Profile& p = Get();
  std::lock_guard<std::mutex> lock(p.mu);
  return p.ops[static_cast<int>(op)];
}

void PrintProfile(std::FILE* out, bool reset) {
  Profile& p = Get();
  std::lock_guard<std::mutex> lock(p.mu);
  std::vector<int> order;
  double total = 0;
  for (int i = 0; i < kNumOps; ++i) {
    if (p.ops[i].calls > 0) order.push_back(i);
    total += p.ops[i].seconds;
  }
  if (order.empty()) return;
  std::sort(order.begin(), order.end(),
            [&](int a, int b) { return p.ops[a].seconds > p.ops[b].seconds; });
  // With marked steps: times per step and shares of the step's wall time; else of kernel time.
  const bool per_step = p.steps > 0 && p.step_seconds > 0;
  const double div = per_step ? static_cast<double>(p.steps) : 1.0;
  const double whole = per_step ? p.step_seconds : total;
  if (per_step) {
    std::fprintf(out,
                 "kiln profile (KILN_PROFILE): %lld steps, %.1f ms per step, %.1f ms of it in "
                 "kernels (%.1f%%)\n",
                 static_cast<long long>(p.steps), 1e3 * p.step_seconds / div, 1e3 * total / div,
                 100.0 * total / p.step_seconds);
  } else {
    std::fprintf(out, "kiln profile (KILN_PROFILE): %.3f s in kernels\n", total);
  }
  std::fprintf(out, "%-26s %9s %10s %7s %10s %9s %9s\n", "op", per_step ? "calls/step" : "calls",
               per_step ? "ms/step" : "ms", per_step ? "step" : "share", "GFLOP", "GFLOP/s",
               "GB/s");
  for (int i : order) {
    const Counter& c = p.ops[i];
    std::fprintf(out, "%-26s %9.0f %10.1f %6.1f%% %10.2f %9.2f %9.2f\n",
                 OpName(static_cast<Op>(i)), static_cast<double>(c.calls) / div,
                 c.seconds * 1e3 / div, whole > 0 ? 100.0 * c.seconds / whole : 0.0,
                 c.flops / 1e9 / div, c.seconds > 0 ? c.flops / c.seconds / 1e9 : 0.0,
                 c.seconds > 0 ? c.bytes / c.seconds / 1e9 : 0.0);
  }
  if (per_step) {
    const double other = std::max(0.0, p.step_seconds - total);
    std::fprintf(out, "%-26s %9s %10.1f %6.1f%%\n", "(outside kernels)", "",
                 other * 1e3 / div, 100.0 * other / p.step_seconds);
  }
  std::fprintf(out, "(FLOPs: Matmul/Linear/Attention/LinearCrossEntropy counted exactly, other ops ~1 "
                    "per output element)\n");
  if (reset) {
    for (auto& c : p.ops) c = Counter();
    p.steps = 0;
    p.step_seconds = 0;
    p.marked = false;
  }
}

}  // namespace kiln::ops
