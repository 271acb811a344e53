#include "tensor/storage.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "tensor/device_memory.h"

namespace kiln {

// The size a request is served with: 64-byte multiples up to 1 KiB, then 8 classes per power of
// two (at most 12.5% over the request), so a block freed by one step fits the same tensor of the
// next step and nearby sizes share a free list.
int64_t AllocationClassSize(int64_t nbytes) {
  size_t s = static_cast<size_t>((std::max<int64_t>(nbytes, 1) + 63) / 64 * 64);
  if (s <= 1024) return static_cast<int64_t>(s);
  const int k = 63 - __builtin_clzll(s);
  const size_t step = size_t{1} << (k - 3);
  return static_cast<int64_t>((s + step - 1) / step * step);
}

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitize = true;
#else
constexpr bool kSanitize = false;
#endif

size_t ClassSize(int64_t nbytes) { return static_cast<size_t>(AllocationClassSize(nbytes)); }

int64_t CacheLimitFromEnv() {
  const char* e = std::getenv("KILN_ALLOC_CACHE_MB");
  if (e == nullptr || *e == '\0') return int64_t{8} << 30;
  char* end = nullptr;
  const long long mb = std::strtoll(e, &end, 10);
  KILN_CHECK(end != e && *end == '\0' && mb >= 0)
      << "KILN_ALLOC_CACHE_MB: expected a non-negative integer (MiB), got '" << e << "'";
  return static_cast<int64_t>(mb) << 20;
}

// The host allocator: a caching allocator. Freed blocks go to a free list of their size class
// and are handed out again for the next request of that class, so a training step after the
// first does no fresh allocation (glibc returns large blocks to the OS with munmap, and every
// fresh page then costs a page fault and zeroing). Cached bytes are capped (KILN_ALLOC_CACHE_MB,
// default 8192; 0 turns caching off); past the cap a freed block goes back to the system.
// Under AddressSanitizer every block is exactly the requested size and never reused, so an
// overrun of a tensor's bytes is still caught.
class HostAllocator : public Allocator {
 public:
  HostAllocator() : limit_(kSanitize ? 0 : CacheLimitFromEnv()) {}

  void* Allocate(int64_t nbytes) override {
    if (kSanitize) {
      void* p = nullptr;
      const size_t size = static_cast<size_t>(std::max<int64_t>(nbytes, 1));
      KILN_CHECK(posix_memalign(&p, 64, size) == 0)
          << "out of host memory allocating " << nbytes << " bytes";
      Count(static_cast<int64_t>(size), true);
      return p;
    }
    const size_t size = ClassSize(nbytes);
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.find(size);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        stats_.cached_bytes -= static_cast<int64_t>(size);
        CountLocked(static_cast<int64_t>(size), false);
        return p;
      }
    }
    void* p = std::aligned_alloc(64, size);
    KILN_CHECK(p != nullptr) << "out of host memory allocating " << nbytes << " bytes";
    Count(static_cast<int64_t>(size), true);
    return p;
  }

  void Free(void* ptr, int64_t nbytes) override {
    const int64_t size =
        kSanitize ? std::max<int64_t>(nbytes, 1) : static_cast<int64_t>(ClassSize(nbytes));
    std::lock_guard<std::mutex> lock(mu_);
    stats_.in_use_bytes -= size;
    if (stats_.cached_bytes + size <= limit_) {
      free_[static_cast<size_t>(size)].push_back(ptr);
      stats_.cached_bytes += size;
      return;
    }
    std::free(ptr);
  }

  AllocatorStats Stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }

  void ResetPeak() {
    std::lock_guard<std::mutex> lock(mu_);
    stats_.peak_in_use_bytes = stats_.in_use_bytes;
  }

  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [size, list] : free_) {
      for (void* p : list) std::free(p);
      list.clear();
    }
    stats_.cached_bytes = 0;
  }

 private:
  void Count(int64_t size, bool fresh) {
    std::lock_guard<std::mutex> lock(mu_);
    CountLocked(size, fresh);
  }
  void CountLocked(int64_t size, bool fresh) {
    stats_.in_use_bytes += size;
    stats_.peak_in_use_bytes = std::max(stats_.peak_in_use_bytes, stats_.in_use_bytes);
    ++stats_.allocations;
    if (fresh) ++stats_.fresh_allocations;
  }

  const int64_t limit_;
  std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  AllocatorStats stats_;
};

HostAllocator* Host() {
  static HostAllocator* a = new HostAllocator();
  return a;
}

}  // namespace

Allocator* CpuAllocator() { return Host(); }
AllocatorStats CpuAllocatorStats() { return Host()->Stats(); }
void ResetCpuAllocatorPeak() { Host()->ResetPeak(); }
void ReleaseCpuAllocatorCache() { Host()->Release(); }

std::string Device::ToString() const {
  switch (type) {
    case kCPU: return "cpu";
    case kCUDA: return absl::StrCat("cuda:", index);
    case kCudaSim: return "cuda-sim";
  }
  return "?";
}

namespace {
std::atomic<uint64_t> g_next_storage_id{1};
std::atomic<void (*)(uint64_t)> g_release_hook{nullptr};
}  // namespace

void SetStorageReleaseHook(void (*hook)(uint64_t id)) { g_release_hook.store(hook); }

Storage::Storage(int64_t nbytes, Device device, Allocator* allocator)
    : nbytes_(nbytes),
      device_(device),
      allocator_(allocator),
      id_(g_next_storage_id.fetch_add(1, std::memory_order_relaxed)) {
  data_ = allocator_->Allocate(nbytes);
}

Storage::~Storage() {
  if (notify_on_release_.load(std::memory_order_relaxed)) {
    if (auto* hook = g_release_hook.load()) hook(id_);
  }
  allocator_->Free(data_, nbytes_);
}

}  // namespace kiln
