// Internal to the interpreter: one block's state on its worker thread (GPU threads as fibers,
// barrier and warp-operation bookkeeping, the shared-memory arena). runtime.h's device-side calls
// and scheduler.cc's block loop share it; kernels never see it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cuda/interp/fiber.h"
#include "cuda/interp/runtime.h"

namespace kiln::cuda_sim::detail {

enum class State { kRunnable, kAtBarrier, kAtWarpOp, kDone };

struct SimThread {
  Thread t;
  Fiber fiber;
  State state = State::kRunnable;
  Site site{nullptr, 0};  // where it waits
  WarpOpKind kind = WarpOpKind::kSyncWarp;
  unsigned mask = 0;
  uint64_t value = 0, result = 0;
  int src = -1;
};

struct SharedSlot {
  const void* site;
  size_t offset, bytes;
  const char* name;
};

// Shared memory: [red zone][array][red zone][array]... Arrays are filled with kPoisonByte when
// they are handed out (0xff: a float NaN, an int -1), red zones with kRedZoneByte and, in ASan
// builds, poisoned so the faulting access itself is reported.
inline constexpr size_t kArenaBytes = 512 << 10;
inline constexpr size_t kRedZone = 64;
inline constexpr size_t kMaxSharedBytes = 227 << 10;  // an H100 block's limit
inline constexpr unsigned char kPoisonByte = 0xff;
inline constexpr unsigned char kRedZoneByte = 0xfd;

struct Block {
  const LaunchSpec* spec = nullptr;
  BlockInfo info;
  unsigned nthreads = 0;
  std::vector<SimThread> threads;
  std::vector<FiberStack> stacks;
  Fiber main;
  const void* main_bottom = nullptr;
  size_t main_size = 0;
  FiberBackend backend = FiberBackend::kAsm;
  void (*body)(const void*) = nullptr;
  const void* closure = nullptr;
  unsigned at_barrier = 0, done = 0;
  std::string error;  // set by a failing device-side call
  // Shared memory.
  unsigned char* arena = nullptr;
  size_t used = 0, dirty = 0;  // end of the last array; end of what the last block touched
  std::vector<SharedSlot> slots;
  void* dynamic = nullptr;

  Block();
  ~Block();
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;
};

// Runs block `linear` of the launch to completion; throws kiln::Error on a deadlock, a failing
// device-side check or a red-zone overwrite.
void RunBlock(Block* b, const LaunchSpec& spec, uint64_t linear, void (*body)(const void*),
              const void* closure, bool reverse);

}  // namespace kiln::cuda_sim::detail
