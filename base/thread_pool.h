// kiln's thread pool: a fixed set of worker threads created once and kept warm between ops, used
// by every parallel loop in kiln (it replaces OpenMP). Plain header (declarations and a template
// only), so the per-ISA kernel files can include it (cpu/CMakeLists.txt).
//
// ParallelFor(n, grain, fn) splits [0, n) into at most NumThreads() contiguous, equal ranges
// (range t = [n*t/nt, n*(t+1)/nt)) and calls fn(begin, end) once per range, the caller running
// range 0. The split depends on n, grain and the thread count only, never on timing, and callers
// keep each output element's arithmetic inside one call (threads never split a reduction), so the
// bits never depend on any of them. It runs fn(0, n) inline, without waking anyone, when
// nt = min(NumThreads(), n / grain) <= 1, when called from inside another ParallelFor (nested
// loops run inline) or while another thread of the process is using the pool.
//
// Waiting: an idle worker spins for a short time (KILN_SPIN_US microseconds, default 50) and
// then sleeps on a futex, so back-to-back ops find it awake while a busy machine gets the core
// back quickly (libgomp's default spin took 2 shared cores away from another process for
// milliseconds at a time: docs/threads.md).
#pragma once

#include <cstdint>

namespace kiln {

// Threads ParallelFor uses (>= 1). Default: KILN_NUM_THREADS, else OMP_NUM_THREADS, else the CPUs
// this process may run on.
int NumThreads();
// n >= 1 sets the count; n <= 0 restores the default. Call it outside parallel loops. Results do
// not depend on it.
void SetNumThreads(int n);
// True inside the body of a ParallelFor (on any of its threads).
bool InParallel();

using ParallelBody = void (*)(const void* ctx, int64_t begin, int64_t end);
// Untyped form of ParallelFor (defined in base/thread_pool.cc).
void ParallelForRaw(int64_t n, int64_t grain, ParallelBody body, const void* ctx);

// Splits [0, n) as described above; each range gets at least `grain` items (grain >= 1).
template <typename F>
inline void ParallelFor(int64_t n, int64_t grain, const F& fn) {
  ParallelForRaw(
      n, grain,
      [](const void* ctx, int64_t begin, int64_t end) {
        (*static_cast<const F*>(ctx))(begin, end);
      },
      &fn);
}

// ParallelFor for items of about `work` elementary operations each: every thread gets at least
// `min_work` of them (per-op size thresholds; below that the loop runs inline).
template <typename F>
inline void ParallelForWork(int64_t n, int64_t work, int64_t min_work, const F& fn) {
  const int64_t w = work < 1 ? 1 : work;
  ParallelFor(n, (min_work + w - 1) / w, fn);
}

// Runs fn(tid, nt) on nt = min(threads, NumThreads()) threads (tid in [0, nt)); nt is fixed before
// any of them starts, so a caller can split work by (tid, nt) itself.
template <typename F>
inline void ParallelRun(int threads, const F& fn) {
  const int nt = threads < NumThreads() ? threads : NumThreads();
  ParallelFor(nt < 1 ? 1 : nt, 1, [&](int64_t begin, int64_t end) {
    for (int64_t t = begin; t < end; ++t) fn(static_cast<int>(t), nt < 1 ? 1 : nt);
  });
}

}  // namespace kiln
