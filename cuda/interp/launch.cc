// Grid execution for the interpreter: checks the launch configuration as the CUDA runtime does,
// then hands blocks to kiln thread-pool workers (each keeps its fiber stacks and shared-memory arena
// between launches). A failing block stops the launch; the error of the lowest-numbered failing
// block is the one thrown, so the message does not depend on the thread count.

#include <atomic>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>

#include "base/check.h"
#include "base/thread_pool.h"
#include "cuda/interp/block.h"

namespace kiln::cuda_sim {
namespace {

std::atomic<int> g_reverse{-1};
std::atomic<int> g_threads{0};

}  // namespace

bool ReverseMode() {
  int r = g_reverse.load(std::memory_order_relaxed);
  if (r < 0) {
    const char* env = std::getenv("KILN_SIM_REVERSE");
    r = env != nullptr && env[0] == '1' ? 1 : 0;
    g_reverse.store(r, std::memory_order_relaxed);
  }
  return r == 1;
}

void SetReverseMode(bool on) { g_reverse.store(on ? 1 : 0, std::memory_order_relaxed); }

int SimThreads() {
  int n = g_threads.load(std::memory_order_relaxed);
  if (n > 0) return n;
  const char* env = std::getenv("KILN_SIM_THREADS");
  if (env != nullptr && std::atoi(env) > 0) return std::atoi(env);
  return NumThreads();
}

void SetSimThreads(int n) { g_threads.store(n < 0 ? 0 : n, std::memory_order_relaxed); }

namespace detail {

void RunGrid(const LaunchSpec& spec, void (*body)(const void*), const void* closure) {
  const dim3 g = spec.grid, d = spec.block;
  const uint64_t threads = static_cast<uint64_t>(d.x) * d.y * d.z;
  KILN_CHECK(g.x > 0 && g.y > 0 && g.z > 0 && d.x > 0 && d.y > 0 && d.z > 0)
      << "cuda-sim: kernel '" << spec.kernel << "': grid (" << g.x << "," << g.y << "," << g.z
      << ") and block (" << d.x << "," << d.y << "," << d.z << ") must not be empty";
  KILN_CHECK(threads <= 1024 && d.z <= 64 && g.y <= 65535 && g.z <= 65535)
      << "cuda-sim: kernel '" << spec.kernel << "': block (" << d.x << "," << d.y << "," << d.z
      << ") or grid (" << g.x << "," << g.y << "," << g.z
      << ") exceeds CUDA's limits (1024 threads per block, block z <= 64, grid y, z <= 65535)";
  const uint64_t nblocks = static_cast<uint64_t>(g.x) * g.y * g.z;
  const bool reverse = ReverseMode();
  const int workers =
      reverse ? 1 : static_cast<int>(std::min<uint64_t>(nblocks, std::max(1, SimThreads())));

  std::atomic<uint64_t> next{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  uint64_t failed_block = ~uint64_t{0};
  std::string failure;
  // Blocks go to kiln's thread pool (at most NumThreads() of them run at once).
  ParallelRun(workers, [&](int, int) {
    thread_local std::unique_ptr<Block> block;
    if (!block) block = std::make_unique<Block>();
    while (!stop.load(std::memory_order_relaxed)) {
      const uint64_t i = next.fetch_add(1);
      if (i >= nblocks) break;
      const uint64_t linear = reverse ? nblocks - 1 - i : i;
      try {
        RunBlock(block.get(), spec, linear, body, closure, reverse);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mu);
        if (linear < failed_block) {
          failed_block = linear;
          failure = e.what();
        }
        stop = true;
      }
    }
  });
  if (!failure.empty()) throw Error(failure);
}

}  // namespace detail
}  // namespace kiln::cuda_sim
