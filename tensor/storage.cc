#include "tensor/storage.h"

#include <cstdlib>
#include <new>

#include "absl/strings/str_cat.h"
#include "base/check.h"

namespace kiln {
namespace {

class HostAllocator : public Allocator {
 public:
  void* Allocate(int64_t nbytes) override {
    size_t size = static_cast<size_t>((nbytes + 63) / 64 * 64);
    if (size == 0) size = 64;
    void* p = std::aligned_alloc(64, size);
    KILN_CHECK(p != nullptr) << "out of host memory allocating " << nbytes << " bytes";
    return p;
  }
  void Free(void* ptr, int64_t) override { std::free(ptr); }
};

}  // namespace

Allocator* CpuAllocator() {
  static HostAllocator* a = new HostAllocator();
  return a;
}

std::string Device::ToString() const {
  switch (type) {
    case kCPU: return "cpu";
    case kCUDA: return absl::StrCat("cuda:", index);
    case kCudaSim: return "cuda-sim";
  }
  return "?";
}

Storage::Storage(int64_t nbytes, Device device, Allocator* allocator)
    : nbytes_(nbytes), device_(device), allocator_(allocator) {
  data_ = allocator_->Allocate(nbytes);
}

Storage::~Storage() { allocator_->Free(data_, nbytes_); }

}  // namespace kiln
