// The pool behind base/thread_pool.h. One job at a time: the launching thread publishes the job
// and bumps `generation_`; workers 1..nt-1 run their ranges, and every worker counts `pending_`
// down; the launcher runs range 0 and waits for pending_ == 0. Every wait spins for a bounded time
// first and then sleeps on a futex; a sleeper announces itself in a counter before its final check,
// and a waker only makes the (costly) futex wake call when that counter says someone sleeps (both
// sides use seq_cst, so either the waker sees the sleeper or the sleeper sees the new value).
#include "base/thread_pool.h"

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define KILN_CPU_RELAX() _mm_pause()
#else
#define KILN_CPU_RELAX() std::this_thread::yield()
#endif

namespace kiln {
namespace {

void FutexWait(std::atomic<uint32_t>* addr, uint32_t expected) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAIT_PRIVATE, expected, nullptr,
          nullptr, 0);
}
void FutexWakeAll(std::atomic<uint32_t>* addr) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), FUTEX_WAKE_PRIVATE, INT_MAX, nullptr,
          nullptr, 0);
}

int EnvInt(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return 0;
  char* end = nullptr;
  const long x = std::strtol(v, &end, 10);
  return (*end == '\0' && x > 0 && x < 4096) ? static_cast<int>(x) : 0;
}

int DefaultThreads() {
  if (int n = EnvInt("KILN_NUM_THREADS")) return n;
  if (int n = EnvInt("OMP_NUM_THREADS")) return n;
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  const unsigned hc = std::thread::hardware_concurrency();
  return hc > 0 ? static_cast<int>(hc) : 1;
}

int64_t SpinNanos() {
  const char* v = std::getenv("KILN_SPIN_US");
  if (v != nullptr && *v != '\0') {
    char* end = nullptr;
    const long x = std::strtol(v, &end, 10);
    if (*end == '\0' && x >= 0) return static_cast<int64_t>(x) * 1000;
  }
  return 50 * 1000;
}

// Spins until pred() or the spin budget is spent; returns pred().
template <typename Pred>
bool SpinUntil(int64_t spin_ns, const Pred& pred) {
  if (pred()) return true;
  if (spin_ns <= 0) return false;
  const auto t0 = std::chrono::steady_clock::now();
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      KILN_CPU_RELAX();
      if (pred()) return true;
    }
    if (std::chrono::steady_clock::now() - t0 > std::chrono::nanoseconds(spin_ns)) return pred();
  }
}

thread_local bool tl_in_parallel = false;

class Pool {
 public:
  Pool() : threads_(DefaultThreads()), spin_ns_(SpinNanos()) {}

  int threads() const { return threads_.load(std::memory_order_relaxed); }
  void set_threads(int n) {
    threads_.store(n > 0 ? n : DefaultThreads(), std::memory_order_relaxed);
  }

  void Run(int64_t n, int64_t grain, ParallelBody body, const void* ctx) {
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    int64_t nt = threads();
    if (n / grain < nt) nt = n / grain;
    if (nt <= 1 || tl_in_parallel || busy_.exchange(true, std::memory_order_acquire)) {
      const bool outer = tl_in_parallel;
      tl_in_parallel = true;
      body(ctx, 0, n);
      tl_in_parallel = outer;
      return;
    }
    EnsureWorkers(static_cast<int>(nt) - 1);
    body_ = body;
    ctx_ = ctx;
    n_ = n;
    nt_ = static_cast<int>(nt);
    // Every worker acknowledges every job (those past nt_ without work), so no worker can still
    // be reading this job's fields when the next one is written.
    pending_.store(num_workers_.load(std::memory_order_relaxed), std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_seq_cst);
    if (sleeping_workers_.load(std::memory_order_seq_cst) > 0) FutexWakeAll(&generation_);
    tl_in_parallel = true;
    body(ctx, 0, n / nt);
    tl_in_parallel = false;
    auto done = [this] { return pending_.load(std::memory_order_acquire) == 0; };
    if (!SpinUntil(spin_ns_, done)) {
      for (;;) {
        const uint32_t left = pending_.load(std::memory_order_seq_cst);
        if (left == 0) break;
        launcher_sleeping_.store(1, std::memory_order_seq_cst);
        if (pending_.load(std::memory_order_seq_cst) == left) FutexWait(&pending_, left);
        launcher_sleeping_.store(0, std::memory_order_seq_cst);
      }
    }
    std::atomic_thread_fence(std::memory_order_acquire);
    busy_.store(false, std::memory_order_release);
  }

 private:
  void EnsureWorkers(int want) {
    if (static_cast<int>(num_workers_.load(std::memory_order_acquire)) >= want) return;
    std::lock_guard<std::mutex> lock(grow_mu_);
    while (static_cast<int>(workers_.size()) < want) {
      const int index = static_cast<int>(workers_.size()) + 1;
      // A new worker starts from the current generation, so it never runs an old job.
      const uint32_t gen = generation_.load(std::memory_order_seq_cst);
      workers_.emplace_back([this, index, gen] { WorkerLoop(index, gen); });
    }
    num_workers_.store(static_cast<uint32_t>(workers_.size()), std::memory_order_release);
  }

  void WorkerLoop(int index, uint32_t seen) {
    tl_in_parallel = true;
    for (;;) {
      auto changed = [&] { return generation_.load(std::memory_order_acquire) != seen; };
      if (!SpinUntil(spin_ns_, changed)) {
        while (generation_.load(std::memory_order_seq_cst) == seen) {
          sleeping_workers_.fetch_add(1, std::memory_order_seq_cst);
          FutexWait(&generation_, seen);
          sleeping_workers_.fetch_sub(1, std::memory_order_seq_cst);
        }
      }
      ++seen;  // jobs cannot overtake: the next one waits for this worker's acknowledgement
      if (index < nt_) body_(ctx_, n_ * index / nt_, n_ * (index + 1) / nt_);
      if (pending_.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
          launcher_sleeping_.load(std::memory_order_seq_cst) != 0) {
        FutexWakeAll(&pending_);
      }
    }
  }

  std::atomic<int> threads_;
  const int64_t spin_ns_;
  std::atomic<bool> busy_{false};
  std::atomic<uint32_t> generation_{0};
  std::atomic<uint32_t> pending_{0};
  std::atomic<uint32_t> sleeping_workers_{0};
  std::atomic<uint32_t> launcher_sleeping_{0};
  std::atomic<uint32_t> num_workers_{0};
  // The current job: written by the launcher before the generation bump (release), read by the
  // workers after they see it (acquire).
  ParallelBody body_ = nullptr;
  const void* ctx_ = nullptr;
  int64_t n_ = 0;
  int nt_ = 0;
  std::mutex grow_mu_;
  std::vector<std::thread> workers_;
};

Pool& ThePool() {
  static Pool* pool = new Pool();  // never destroyed: its workers run until the process exits
  return *pool;
}

}  // namespace

int NumThreads() { return ThePool().threads(); }
void SetNumThreads(int n) { ThePool().set_threads(n); }
bool InParallel() { return tl_in_parallel; }

void ParallelForRaw(int64_t n, int64_t grain, ParallelBody body, const void* ctx) {
  ThePool().Run(n, grain, body, ctx);
}

}  // namespace kiln
