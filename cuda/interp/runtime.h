// The CUDA kernel interpreter's device-side API: what a portable kernel (docs/cuda.md) may use,
// implemented on the CPU. Kernels compiled by cuda/interp see these names inside namespace
// kiln::cuda_sim (cuda/portable.h maps threadIdx & co. here); blocks run on worker threads and
// each GPU thread is a fiber (cuda/interp/fiber.h) that runs until it waits at a barrier, a warp
// operation or its end, so a missing barrier shows up as a wrong result (and more often so in
// reverse mode), and a barrier or shuffle not reached by every thread it needs is a kiln::Error
// naming the kernel (a deadlock), never a hang.
#pragma once

#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <tuple>
#include <type_traits>
#include <utility>

#include "cuda/interp/fiber.h"
#include "tensor/half.h"

struct CUstream_st;

namespace kiln::cuda_sim {

using Stream = ::CUstream_st*;

struct uint3 {
  unsigned x = 0, y = 0, z = 0;
};
struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};

// ---- Scheduling knobs ----------------------------------------------------------------------
// Reverse mode runs blocks, warps and lanes in reverse order (to expose missing barriers): on
// when KILN_SIM_REVERSE=1 at the first launch, or set here.
bool ReverseMode();
void SetReverseMode(bool on);
// Worker threads for blocks (default: kiln::NumThreads(); KILN_SIM_THREADS overrides, capped by the pool).
// Reverse mode always uses one, so the block order is the reverse one.
int SimThreads();
void SetSimThreads(int n);  // 0: back to the default

namespace detail {

struct Block;
struct Thread {
  uint3 tid;
  unsigned linear = 0;  // x + y * bx + z * bx * by
  unsigned lane = 0, warp = 0;
  Block* block = nullptr;
};
struct BlockInfo {
  uint3 bid;
  dim3 bdim, gdim;
};
extern thread_local Thread* tls_thread;
extern thread_local BlockInfo* tls_block;

enum class WarpOpKind : int { kSyncWarp, kShfl, kShflUp, kShflDown, kShflXor, kBallot };

struct Site {
  const char* file;
  int line;
};

void SyncThreads(Site site);
// Waits until every lane of `mask` has reached the same warp operation with the same mask and
// returns, for shuffles, the `value` of lane `src` (own lane if src < 0 or src == own lane), for
// ballot the mask of lanes whose value was nonzero.
uint64_t WarpOp(WarpOpKind kind, unsigned mask, uint64_t value, int src, Site site);
// Static __shared__ arrays: one allocation per declaration site per block (all threads get the
// same pointer), with poisoned red zones around it and filled with poison bytes.
void* SharedAlloc(const void* site, size_t bytes, size_t align, const char* name);
void* DynamicShared();
[[noreturn]] void DeviceFail(const char* what, Site site);

struct LaunchSpec {
  const char* kernel;
  const char* file;
  int line;
  dim3 grid, block;
  size_t smem;
};
// Runs body(closure) once per GPU thread of every block of the grid.
void RunGrid(const LaunchSpec& spec, void (*body)(const void*), const void* closure);

template <typename T>
uint64_t ToBits(T v) {
  static_assert(sizeof(T) <= 8 && std::is_trivially_copyable_v<T>, "shuffle of a value > 8 bytes");
  uint64_t b = 0;
  std::memcpy(&b, &v, sizeof(T));
  return b;
}
template <typename T>
T FromBits(uint64_t b) {
  T v;
  std::memcpy(&v, &b, sizeof(T));
  return v;
}
inline unsigned LaneId() { return tls_thread->lane; }
inline void CheckWidth(int width, Site site) {
  if (width <= 0 || width > 32 || (width & (width - 1)) != 0) {
    DeviceFail("shuffle width must be a power of two in [1, 32]", site);
  }
}

}  // namespace detail

inline constexpr int kWarpSize = 32;

// ---- Barriers, shuffles, votes ---------------------------------------------------------------
inline void __syncthreads(const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  detail::SyncThreads({file, line});
}
inline void __syncwarp(unsigned mask = 0xffffffffu, const char* file = __builtin_FILE(),
                       int line = __builtin_LINE()) {
  detail::WarpOp(detail::WarpOpKind::kSyncWarp, mask, 0, -1, {file, line});
}
template <typename T>
T __shfl_sync(unsigned mask, T var, int src_lane, int width = 32,
              const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  detail::CheckWidth(width, {file, line});
  const int lane = static_cast<int>(detail::LaneId());
  const int src = (lane & ~(width - 1)) + (src_lane & (width - 1));
  return detail::FromBits<T>(
      detail::WarpOp(detail::WarpOpKind::kShfl, mask, detail::ToBits(var), src, {file, line}));
}
template <typename T>
T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = 32,
                 const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  detail::CheckWidth(width, {file, line});
  const int lane = static_cast<int>(detail::LaneId());
  const int src = (lane & (width - 1)) >= static_cast<int>(delta) ? lane - static_cast<int>(delta)
                                                                   : lane;
  return detail::FromBits<T>(
      detail::WarpOp(detail::WarpOpKind::kShflUp, mask, detail::ToBits(var), src, {file, line}));
}
template <typename T>
T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = 32,
                   const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  detail::CheckWidth(width, {file, line});
  const int lane = static_cast<int>(detail::LaneId());
  const int src =
      (lane & (width - 1)) + static_cast<int>(delta) < width ? lane + static_cast<int>(delta) : lane;
  return detail::FromBits<T>(
      detail::WarpOp(detail::WarpOpKind::kShflDown, mask, detail::ToBits(var), src, {file, line}));
}
template <typename T>
T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = 32,
                  const char* file = __builtin_FILE(), int line = __builtin_LINE()) {
  detail::CheckWidth(width, {file, line});
  const int lane = static_cast<int>(detail::LaneId());
  int src = lane ^ lane_mask;
  // A later group of `width` lanes is out of reach: the own value comes back.
  if ((src & ~(width - 1)) > (lane & ~(width - 1)) || src >= 32) src = lane;
  return detail::FromBits<T>(
      detail::WarpOp(detail::WarpOpKind::kShflXor, mask, detail::ToBits(var), src, {file, line}));
}
inline unsigned __ballot_sync(unsigned mask, int pred, const char* file = __builtin_FILE(),
                              int line = __builtin_LINE()) {
  return static_cast<unsigned>(
      detail::WarpOp(detail::WarpOpKind::kBallot, mask, pred != 0, -1, {file, line}));
}
inline int __any_sync(unsigned mask, int pred, const char* file = __builtin_FILE(),
                      int line = __builtin_LINE()) {
  return __ballot_sync(mask, pred, file, line) != 0;
}
inline int __all_sync(unsigned mask, int pred, const char* file = __builtin_FILE(),
                      int line = __builtin_LINE()) {
  return __ballot_sync(mask, pred, file, line) == mask;
}
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_thread_fence(std::memory_order_seq_cst); }

// ---- Atomics (real atomics: blocks run on parallel worker threads) --------------------------
template <typename T>
T AtomicCasLoop(T* addr, T (*op)(T, T), T v) {
  std::atomic_ref<T> a(*addr);
  T old = a.load();
  while (!a.compare_exchange_weak(old, op(old, v))) {
  }
  return old;
}
inline int atomicAdd(int* a, int v) { return std::atomic_ref<int>(*a).fetch_add(v); }
inline unsigned atomicAdd(unsigned* a, unsigned v) {
  return std::atomic_ref<unsigned>(*a).fetch_add(v);
}
inline unsigned long long atomicAdd(unsigned long long* a, unsigned long long v) {
  return std::atomic_ref<unsigned long long>(*a).fetch_add(v);
}
inline float atomicAdd(float* a, float v) {
  return AtomicCasLoop<float>(a, [](float x, float y) { return x + y; }, v);
}
inline double atomicAdd(double* a, double v) {
  return AtomicCasLoop<double>(a, [](double x, double y) { return x + y; }, v);
}
inline int atomicSub(int* a, int v) { return std::atomic_ref<int>(*a).fetch_sub(v); }
inline unsigned atomicSub(unsigned* a, unsigned v) {
  return std::atomic_ref<unsigned>(*a).fetch_sub(v);
}
template <typename T>
T AtomicMaxOf(T* a, T v) {
  return AtomicCasLoop<T>(a, [](T x, T y) { return x < y ? y : x; }, v);
}
template <typename T>
T AtomicMinOf(T* a, T v) {
  return AtomicCasLoop<T>(a, [](T x, T y) { return y < x ? y : x; }, v);
}
inline int atomicMax(int* a, int v) { return AtomicMaxOf(a, v); }
inline unsigned atomicMax(unsigned* a, unsigned v) { return AtomicMaxOf(a, v); }
inline unsigned long long atomicMax(unsigned long long* a, unsigned long long v) {
  return AtomicMaxOf(a, v);
}
inline int atomicMin(int* a, int v) { return AtomicMinOf(a, v); }
inline unsigned atomicMin(unsigned* a, unsigned v) { return AtomicMinOf(a, v); }
template <typename T>
T AtomicCasOf(T* a, T compare, T val) {
  std::atomic_ref<T>(*a).compare_exchange_strong(compare, val);
  return compare;  // the old value either way
}
inline int atomicCAS(int* a, int c, int v) { return AtomicCasOf(a, c, v); }
inline unsigned atomicCAS(unsigned* a, unsigned c, unsigned v) { return AtomicCasOf(a, c, v); }
inline unsigned long long atomicCAS(unsigned long long* a, unsigned long long c,
                                    unsigned long long v) {
  return AtomicCasOf(a, c, v);
}
inline int atomicExch(int* a, int v) { return std::atomic_ref<int>(*a).exchange(v); }
inline unsigned atomicExch(unsigned* a, unsigned v) {
  return std::atomic_ref<unsigned>(*a).exchange(v);
}
inline unsigned long long atomicExch(unsigned long long* a, unsigned long long v) {
  return std::atomic_ref<unsigned long long>(*a).exchange(v);
}
inline float atomicExch(float* a, float v) { return std::atomic_ref<float>(*a).exchange(v); }

// ---- Float intrinsics (CUDA's names; arithmetic in IEEE float) -------------------------------
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __expf(float x) { return std::exp(x); }
inline float __logf(float x) { return std::log(x); }
inline float __tanhf(float x) { return std::tanh(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __fsqrt_rn(float x) { return std::sqrt(x); }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline int __float_as_int(float x) { return detail::FromBits<int>(detail::ToBits(x)); }
inline float __int_as_float(int x) { return detail::FromBits<float>(detail::ToBits(x)); }
inline unsigned __float_as_uint(float x) { return detail::FromBits<unsigned>(detail::ToBits(x)); }
inline float __uint_as_float(unsigned x) { return detail::FromBits<float>(detail::ToBits(x)); }
inline int __float2int_rn(float x) { return static_cast<int>(std::nearbyint(x)); }
inline int max(int a, int b) { return a < b ? b : a; }
inline int min(int a, int b) { return b < a ? b : a; }
inline unsigned max(unsigned a, unsigned b) { return a < b ? b : a; }
inline unsigned min(unsigned a, unsigned b) { return b < a ? b : a; }
inline long long max(long long a, long long b) { return a < b ? b : a; }
inline long long min(long long a, long long b) { return b < a ? b : a; }
inline float max(float a, float b) { return std::fmax(a, b); }
inline float min(float a, float b) { return std::fmin(a, b); }
using ::expf;
using ::fabsf;
using ::fmaf;
using ::fmaxf;
using ::fminf;
using ::logf;
using ::sqrtf;
using ::tanhf;

// ---- Vector types ----------------------------------------------------------------------------
struct alignas(8) float2 {
  float x, y;
};
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(16) int4 {
  int x, y, z, w;
};
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }

// ---- Half and bfloat16: storage and conversion; arithmetic goes through float ----------------
struct __half {
  unsigned short x = 0;
  __half() = default;
  __half(float f) : x(FloatToHalfBits(f)) {}  // NOLINT: implicit, as CUDA's
  operator float() const { return HalfBitsToFloat(x); }
};
struct __nv_bfloat16 {
  unsigned short x = 0;
  __nv_bfloat16() = default;
  __nv_bfloat16(float f) : x(FloatToBf16Bits(f)) {}  // NOLINT: implicit, as CUDA's
  operator float() const { return Bf16BitsToFloat(x); }
};
inline __half __float2half(float f) { return __half(f); }
inline __half __float2half_rn(float f) { return __half(f); }
inline float __half2float(__half h) { return static_cast<float>(h); }
inline __nv_bfloat16 __float2bfloat16(float f) { return __nv_bfloat16(f); }
inline __nv_bfloat16 __float2bfloat16_rn(float f) { return __nv_bfloat16(f); }
inline float __bfloat162float(__nv_bfloat16 b) { return static_cast<float>(b); }

// ---- Launch ----------------------------------------------------------------------------------
// The interpreter's <<<grid, block, smem, stream>>>: arguments are converted to the kernel's
// parameter types once (as a CUDA launch copies them) and every GPU thread calls the kernel on
// those copies.
template <typename... P, typename... A>
void Launch(const char* kernel_name, const char* file, int line, void (*kernel)(P...), dim3 grid,
            dim3 block, size_t smem, Stream stream, A&&... args) {
  static_assert(sizeof...(P) == sizeof...(A), "kernel launched with the wrong argument count");
  (void)stream;  // the interpreter runs each launch to completion, in order
  struct Closure {
    void (*kernel)(P...);
    std::tuple<std::decay_t<P>...> args;
  };
  const Closure closure{kernel, std::tuple<std::decay_t<P>...>(std::forward<A>(args)...)};
  detail::RunGrid({kernel_name, file, line, grid, block, smem},
                  [](const void* c) {
                    const auto* cl = static_cast<const Closure*>(c);
                    std::apply(cl->kernel, cl->args);
                  },
                  &closure);
}

}  // namespace kiln::cuda_sim
