// base/thread_pool.h: every index is visited exactly once by ranges that depend only on (n, grain,
// thread count); nested loops and concurrent launchers run inline; workers that went to sleep
// wake up for the next job; the thread count is respected.
#include "base/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

namespace kiln {
namespace {

class ThreadsGuard {
 public:
  ThreadsGuard() : saved_(NumThreads()) {}
  ~ThreadsGuard() { SetNumThreads(saved_); }

 private:
  int saved_;
};

TEST(ThreadPoolTest, EveryIndexOnceWithFixedRanges) {
  ThreadsGuard guard;
  for (int threads : {1, 2, 3, 4}) {
    SetNumThreads(threads);
    EXPECT_EQ(NumThreads(), threads);
    for (int64_t n : {0, 1, 2, 3, 7, 64, 1000}) {
      for (int64_t grain : {1, 2, 5, 100}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        std::mutex mu;
        std::set<std::pair<int64_t, int64_t>> ranges;
        ParallelFor(n, grain, [&](int64_t lo, int64_t hi) {
          for (int64_t i = lo; i < hi; ++i) hits[static_cast<size_t>(i)]++;
          std::lock_guard<std::mutex> lock(mu);
          ranges.insert({lo, hi});
        });
        for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1) << i;
        // The split: nt = min(threads, n / grain) equal ranges (one inline range when nt <= 1).
        int64_t nt = std::min<int64_t>(threads, n / grain);
        if (n == 0) {
          EXPECT_TRUE(ranges.empty());
          continue;
        }
        if (nt < 1) nt = 1;
        std::set<std::pair<int64_t, int64_t>> want;
        for (int64_t t = 0; t < nt; ++t) want.insert({n * t / nt, n * (t + 1) / nt});
        EXPECT_EQ(ranges, want) << "n=" << n << " grain=" << grain << " threads=" << threads;
      }
    }
  }
}

TEST(ThreadPoolTest, UsesAtMostTheSetThreadCount) {
  ThreadsGuard guard;
  for (int threads : {1, 2, 3}) {
    SetNumThreads(threads);
    std::mutex mu;
    std::set<std::thread::id> ids;
    ParallelFor(threads * 4, 1, [&](int64_t, int64_t) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      std::lock_guard<std::mutex> lock(mu);
      ids.insert(std::this_thread::get_id());
    });
    EXPECT_EQ(static_cast<int>(ids.size()), threads);
  }
}

TEST(ThreadPoolTest, NestedLoopsRunInline) {
  ThreadsGuard guard;
  SetNumThreads(2);
  std::atomic<int> inner_total{0}, inner_calls{0};
  EXPECT_FALSE(InParallel());
  ParallelFor(2, 1, [&](int64_t lo, int64_t hi) {
    EXPECT_TRUE(InParallel());
    for (int64_t i = lo; i < hi; ++i) {
      const auto self = std::this_thread::get_id();
      ParallelFor(100, 1, [&](int64_t a, int64_t b) {
        EXPECT_EQ(std::this_thread::get_id(), self);
        inner_calls++;
        inner_total += static_cast<int>(b - a);
      });
    }
  });
  EXPECT_FALSE(InParallel());
  EXPECT_EQ(inner_total.load(), 200);
  EXPECT_EQ(inner_calls.load(), 2);  // one inline range each
}

TEST(ThreadPoolTest, ParallelRunGivesEachTidOnce) {
  ThreadsGuard guard;
  SetNumThreads(3);
  std::vector<std::atomic<int>> seen(3);
  std::atomic<int> nts{0};
  ParallelRun(8, [&](int tid, int nt) {
    seen[static_cast<size_t>(tid)]++;
    nts += nt;
  });
  for (auto& s : seen) EXPECT_EQ(s.load(), 1);
  EXPECT_EQ(nts.load(), 9);
}

// Many short jobs back to back, with pauses long enough for the workers to fall asleep between
// some of them, and two external threads launching at once (one of them runs inline).
TEST(ThreadPoolTest, ManyJobsSleepWakeAndConcurrentLaunchers) {
  ThreadsGuard guard;
  SetNumThreads(3);
  auto work = [](int jobs, bool pause) {
    int64_t total = 0;
    for (int j = 0; j < jobs; ++j) {
      std::vector<int64_t> part(64, 0);
      ParallelFor(64, 1, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) part[static_cast<size_t>(i)] = i + j;
      });
      for (int64_t x : part) total += x;
      if (pause && j % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return total;
  };
  auto expected = [](int jobs) {
    int64_t t = 0;
    for (int j = 0; j < jobs; ++j) t += 64 * 63 / 2 + 64 * static_cast<int64_t>(j);
    return t;
  };
  EXPECT_EQ(work(600, true), expected(600));
  int64_t a = 0, b = 0;
  std::thread t1([&] { a = work(300, false); });
  std::thread t2([&] { b = work(300, false); });
  t1.join();
  t2.join();
  EXPECT_EQ(a, expected(300));
  EXPECT_EQ(b, expected(300));
}

TEST(ThreadPoolTest, ZeroOrNegativeRestoresDefault) {
  ThreadsGuard guard;
  SetNumThreads(5);
  EXPECT_EQ(NumThreads(), 5);
  SetNumThreads(0);
  EXPECT_GE(NumThreads(), 1);
}

}  // namespace
}  // namespace kiln
