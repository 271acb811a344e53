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

// The default host allocator (64-byte aligned, zero-size safe).
Allocator* CpuAllocator();

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

 private:
  void* data_;
  int64_t nbytes_;
  Device device_;
  Allocator* allocator_;
  std::atomic<int64_t> version_{0};
};

}  // namespace kiln
