// Storage: one shared, 64-byte aligned buffer. Views share it. The version counter lives here, so
// an in-place write through any view of a buffer is seen by every tensor saved for backward that
// aliases it (PyTorch shares its version counter between views for the same reason).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "tensor/device.h"

namespace kiln {

class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* Allocate(int64_t nbytes) = 0;
  virtual void Free(void* ptr, int64_t nbytes) = 0;
};

// The default host allocator (64-byte aligned, zero-size safe): a caching allocator that keeps
// freed blocks per size class for reuse (tensor/storage.cc; KILN_ALLOC_CACHE_MB caps the cache,
// 0 turns it off; exact-size, never reused blocks under AddressSanitizer).
Allocator* CpuAllocator();

struct AllocatorStats {
  int64_t in_use_bytes = 0;       // handed out and not yet freed (size-class bytes)
  int64_t peak_in_use_bytes = 0;  // since the start or the last ResetCpuAllocatorPeak()
  int64_t cached_bytes = 0;       // freed, kept for reuse
  int64_t allocations = 0;        // every Allocate
  int64_t fresh_allocations = 0;  // those that went to the system (not served from the cache)
};
AllocatorStats CpuAllocatorStats();
void ResetCpuAllocatorPeak();
// Gives every cached block back to the system.
void ReleaseCpuAllocatorCache();

class Storage {
 public:
  Storage(int64_t nbytes, Device device, Allocator* allocator);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  int64_t nbytes() const { return nbytes_; }
  Device device() const { return device_; }
  int64_t version() const { return version_.load(std::memory_order_relaxed); }
  void BumpVersion() { version_.fetch_add(1, std::memory_order_relaxed); }
  // Process-unique and never reused (a new storage at a freed one's address gets a new id), so
  // caches of data derived from a storage key on (id, version), never on the address.
  uint64_t id() const { return id_; }
  // Asks for the release hook (SetStorageReleaseHook) to be called with id() when this storage is
  // destroyed, so a cache can drop what it derived from it.
  void NotifyOnRelease() const { notify_on_release_.store(true, std::memory_order_relaxed); }

 private:
  void* data_;
  int64_t nbytes_;
  Device device_;
  Allocator* allocator_;
  std::atomic<int64_t> version_{0};
  uint64_t id_;
  mutable std::atomic<bool> notify_on_release_{false};
};

// The one function called with a storage's id when a storage marked NotifyOnRelease() is
// destroyed (the CPU backend's pre-packed weight cache sets it; null: none).
void SetStorageReleaseHook(void (*hook)(uint64_t id));

}  // namespace kiln
