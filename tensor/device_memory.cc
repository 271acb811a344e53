// Device memory (tensor/device_memory.h). The CUDA half is compiled only with KILN_CUDA_RUNTIME
// (builds with KILN_CUDA), against the CUDA runtime API (cudart_static; never the driver library).
#include "tensor/device_memory.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/check.h"
#include "tensor/red_zone.h"

#if KILN_CUDA_RUNTIME
#include <cuda_runtime_api.h>
#endif

namespace kiln {
namespace {

#if KILN_CUDA_RUNTIME

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitize = true;
#else
constexpr bool kSanitize = false;
#endif

void Check(cudaError_t e, const char* what) {
  KILN_CHECK(e == cudaSuccess) << what << ": " << cudaGetErrorName(e) << ": "
                               << cudaGetErrorString(e);
}

// One device: its stream and a caching allocator over cudaMalloc. Freed blocks go to the free
// list of their size class and serve the next request of that class. Blocks are reused in stream
// order: every kernel and copy of the device runs on its one stream, so a block freed by the host
// while a kernel still reads it is handed out only to work queued after that kernel (the argument
// PyTorch's allocator makes per stream). When cudaMalloc fails, the cache is released and the
// request tried once more. In sanitizer builds blocks are exact-size and never reused.
//
// Red zones (on in sanitizer builds; KILN_CUDA_REDZONE=1 / 0 in any build): every block carries
// guard bytes before and after the caller's bytes (tensor/red_zone.h), painted with
// cudaMemsetAsync on the stream when the block is handed out and copied back and checked when it
// is freed. Frees run in destructors (Storage), so a damaged guard cannot throw: it prints one
// line naming the device, the block's size, the side and the first bad byte, and aborts (as
// AddressSanitizer does).
class CudaDeviceMemory : public Allocator {
 public:
  explicit CudaDeviceMemory(int index) : index_(index), red_zones_(RedZonesSetting()) {
    Check(cudaSetDevice(index_), "cudaSetDevice");
    Check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  }

  void* Allocate(int64_t nbytes) override {
    const int64_t size = BlockBytes(nbytes);
    void* p = AllocateBlock(nbytes, size);
    if (!red_zones_) return p;
    const RedZoneLayout l = RedZoneLayoutFor(nbytes, kSanitize);
    char* base = static_cast<char*>(p);
    Check(cudaMemsetAsync(base, kRedZoneByte, static_cast<size_t>(l.user_offset), stream_),
          "cudaMemsetAsync (red zone)");
    Check(cudaMemsetAsync(base + l.after_offset, kRedZoneByte, static_cast<size_t>(l.after_bytes),
                          stream_),
          "cudaMemsetAsync (red zone)");
    return base + l.user_offset;
  }

  void Free(void* ptr, int64_t nbytes) override {
    const int64_t size = BlockBytes(nbytes);
    if (red_zones_) ptr = CheckRedZonesOrDie(ptr, nbytes);
    std::lock_guard<std::mutex> lock(mu_);
    stats_.in_use_bytes -= size;
    if (kSanitize) {
      cudaStreamSynchronize(stream_);
      cudaFree(ptr);
      return;
    }
    free_[size].push_back(ptr);
    stats_.cached_bytes += size;
  }

  bool red_zones() const { return red_zones_; }
  cudaStream_t stream() const { return stream_; }
  int index() const { return index_; }

  AllocatorStats Stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return stats_;
  }
  void Release() {
    std::lock_guard<std::mutex> lock(mu_);
    ReleaseLocked();
  }

 private:
  static bool RedZonesSetting() {
    const absl::StatusOr<bool> on = RedZonesFromEnv(std::getenv("KILN_CUDA_REDZONE"), kSanitize);
    KILN_CHECK(on.ok()) << on.status().message();
    return *on;
  }

  // The bytes a request takes from cudaMalloc (the free lists' key).
  int64_t BlockBytes(int64_t nbytes) const {
    if (red_zones_) return RedZoneLayoutFor(nbytes, kSanitize).block_bytes;
    return kSanitize ? std::max<int64_t>(nbytes, 1) : AllocationClassSize(nbytes);
  }

  // A block of `size` bytes: from the free list of its size class, else cudaMalloc.
  void* AllocateBlock(int64_t nbytes, int64_t size) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!kSanitize) {
      auto it = free_.find(size);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        stats_.cached_bytes -= size;
        CountLocked(size, false);
        return p;
      }
    }
    Check(cudaSetDevice(index_), "cudaSetDevice");
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, static_cast<size_t>(size));
    if (e == cudaErrorMemoryAllocation) {
      cudaGetLastError();
      ReleaseLocked();
      e = cudaMalloc(&p, static_cast<size_t>(size));
    }
    KILN_CHECK(e == cudaSuccess) << "out of memory on cuda:" << index_ << " allocating " << nbytes
                                 << " bytes (" << stats_.in_use_bytes << " in use): "
                                 << cudaGetErrorString(e);
    CountLocked(size, true);
    return p;
  }

  // Copies the guards of the block at `ptr` back (after all queued work), checks them and returns
  // the block's start; a damaged guard aborts with one line. When the copies themselves fail (a
  // kernel already broke the context; that error surfaces at the next checked call) the check is
  // skipped with a warning printed once.
  void* CheckRedZonesOrDie(void* ptr, int64_t nbytes) {
    const RedZoneLayout l = RedZoneLayoutFor(nbytes, kSanitize);
    char* base = static_cast<char*>(ptr) - l.user_offset;
    std::vector<uint8_t> before(static_cast<size_t>(l.user_offset));
    std::vector<uint8_t> after(static_cast<size_t>(l.after_bytes));
    cudaError_t e = cudaMemcpyAsync(before.data(), base, before.size(), cudaMemcpyDeviceToHost,
                                    stream_);
    if (e == cudaSuccess) {
      e = cudaMemcpyAsync(after.data(), base + l.after_offset, after.size(),
                          cudaMemcpyDeviceToHost, stream_);
    }
    if (e == cudaSuccess) e = cudaStreamSynchronize(stream_);
    if (e != cudaSuccess) {
      static std::atomic<bool> warned{false};
      if (!warned.exchange(true)) {
        std::fprintf(stderr, "kiln: warning: cuda:%d: red zones not checked: %s: %s\n", index_,
                     cudaGetErrorName(e), cudaGetErrorString(e));
      }
      return base;
    }
    const std::string damage =
        CheckRedZones(l, before.data(), after.data(), absl::StrCat("cuda:", index_));
    if (!damage.empty()) {
      std::fprintf(stderr, "kiln: fatal: %s\n", damage.c_str());
      std::fflush(stderr);
      std::abort();
    }
    return base;
  }

  void ReleaseLocked() {
    cudaStreamSynchronize(stream_);  // no queued kernel may still read a block we give back
    for (auto& [size, list] : free_) {
      for (void* p : list) cudaFree(p);
      list.clear();
    }
    stats_.cached_bytes = 0;
  }
  void CountLocked(int64_t size, bool fresh) {
    stats_.in_use_bytes += size;
    stats_.peak_in_use_bytes = std::max(stats_.peak_in_use_bytes, stats_.in_use_bytes);
    ++stats_.allocations;
    if (fresh) ++stats_.fresh_allocations;
  }

  const int index_;
  const bool red_zones_;
  cudaStream_t stream_ = nullptr;
  std::mutex mu_;
  std::unordered_map<int64_t, std::vector<void*>> free_;
  AllocatorStats stats_;
};

// The devices, created at first use and never destroyed (tensors may outlive static
// destruction order).
CudaDeviceMemory* Cuda(Device d) {
  static std::mutex mu;
  static auto* devices = new std::vector<CudaDeviceMemory*>();
  std::lock_guard<std::mutex> lock(mu);
  if (devices->empty()) {
    std::string why;
    const int n = CudaDeviceCount(&why);
    KILN_CHECK(n > 0) << "device " << d.ToString() << " is not usable: " << why;
    devices->assign(static_cast<size_t>(n), nullptr);
  }
  KILN_CHECK(d.index >= 0 && d.index < static_cast<int>(devices->size()))
      << "device " << d.ToString() << " does not exist (this machine has " << devices->size()
      << " CUDA device(s))";
  auto& slot = (*devices)[static_cast<size_t>(d.index)];
  if (slot == nullptr) slot = new CudaDeviceMemory(d.index);
  return slot;
}

#else  // !KILN_CUDA_RUNTIME

[[noreturn]] void NoCuda(Device d) {
  KILN_CHECK(false) << "device " << d.ToString()
                    << " is not available: kiln was built without CUDA (KILN_CUDA=OFF)";
  __builtin_unreachable();
}

#endif

}  // namespace

Allocator* DeviceAllocator(Device d) {
  if (IsHostMemory(d)) return CpuAllocator();
#if KILN_CUDA_RUNTIME
  return Cuda(d);
#else
  NoCuda(d);
#endif
}

void CopyBytes(void* dst, Device dst_dev, const void* src, Device src_dev, int64_t nbytes) {
  if (nbytes <= 0) return;
  if (IsHostMemory(dst_dev) && IsHostMemory(src_dev)) {
    std::memcpy(dst, src, static_cast<size_t>(nbytes));
    return;
  }
#if KILN_CUDA_RUNTIME
  const size_t n = static_cast<size_t>(nbytes);
  if (IsHostMemory(src_dev)) {  // host -> device: synchronous, the host buffer may go away
    CudaDeviceMemory* m = Cuda(dst_dev);
    Check(cudaMemcpyAsync(dst, src, n, cudaMemcpyHostToDevice, m->stream()), "cudaMemcpyAsync H2D");
    Check(cudaStreamSynchronize(m->stream()), "cudaStreamSynchronize");
  } else if (IsHostMemory(dst_dev)) {
    CudaDeviceMemory* m = Cuda(src_dev);
    Check(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToHost, m->stream()), "cudaMemcpyAsync D2H");
    Check(cudaStreamSynchronize(m->stream()), "cudaStreamSynchronize");
  } else if (dst_dev == src_dev) {
    CudaDeviceMemory* m = Cuda(src_dev);
    Check(cudaMemcpyAsync(dst, src, n, cudaMemcpyDeviceToDevice, m->stream()),
          "cudaMemcpyAsync D2D");
  } else {  // between two GPUs: finish the source's work, copy, finish the copy
    CudaDeviceMemory* s = Cuda(src_dev);
    CudaDeviceMemory* t = Cuda(dst_dev);
    Check(cudaStreamSynchronize(s->stream()), "cudaStreamSynchronize");
    Check(cudaMemcpyPeerAsync(dst, t->index(), src, s->index(), n, t->stream()),
          "cudaMemcpyPeerAsync");
    Check(cudaStreamSynchronize(t->stream()), "cudaStreamSynchronize");
  }
#else
  NoCuda(IsHostMemory(dst_dev) ? src_dev : dst_dev);
#endif
}

CUstream_st* DeviceStream(Device d) {
  if (IsHostMemory(d)) return nullptr;
#if KILN_CUDA_RUNTIME
  return Cuda(d)->stream();
#else
  NoCuda(d);
#endif
}

void SynchronizeDevice(Device d) {
  if (IsHostMemory(d)) return;
#if KILN_CUDA_RUNTIME
  Check(cudaStreamSynchronize(Cuda(d)->stream()), "cudaStreamSynchronize");
#else
  NoCuda(d);
#endif
}

int CudaDeviceCount(std::string* why) {
#if KILN_CUDA_RUNTIME
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    if (why != nullptr) {
      *why = absl::StrCat("cudaGetDeviceCount: ", cudaGetErrorName(e), " (", static_cast<int>(e),
                          "): ", cudaGetErrorString(e));
    }
    cudaGetLastError();  // clear the sticky error
    return 0;
  }
  if (n == 0 && why != nullptr) *why = "cudaGetDeviceCount: no CUDA device";
  return n;
#else
  if (why != nullptr) *why = "kiln was built without CUDA (KILN_CUDA=OFF)";
  return 0;
#endif
}

AllocatorStats DeviceAllocatorStats(Device d) {
  if (IsHostMemory(d)) return CpuAllocatorStats();
#if KILN_CUDA_RUNTIME
  return Cuda(d)->Stats();
#else
  NoCuda(d);
#endif
}

bool DeviceRedZones(Device d) {
  if (IsHostMemory(d)) return false;
#if KILN_CUDA_RUNTIME
  return Cuda(d)->red_zones();
#else
  NoCuda(d);
#endif
}

void ReleaseDeviceAllocatorCache(Device d) {
  if (IsHostMemory(d)) {
    ReleaseCpuAllocatorCache();
    return;
  }
#if KILN_CUDA_RUNTIME
  Cuda(d)->Release();
#else
  NoCuda(d);
#endif
}

absl::StatusOr<Device> ParseDevice(const std::string& name) {
  if (name == "cpu") return Device::CPU();
  if (name == "cuda-sim") return Device{Device::kCudaSim, 0};
  if (name == "cuda") return Device{Device::kCUDA, 0};
  int index = 0;
  if (name.rfind("cuda:", 0) == 0 && absl::SimpleAtoi(name.substr(5), &index) && index >= 0) {
    return Device{Device::kCUDA, index};
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown device '", name, "' (expected cpu, cuda, cuda:N or cuda-sim)"));
}

absl::StatusOr<Device> UsableDevice(const std::string& name) {
  absl::StatusOr<Device> d = ParseDevice(name);
  if (!d.ok() || d->type != Device::kCUDA) return d;
  std::string why;
  const int n = CudaDeviceCount(&why);
  if (n == 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("device '", name, "' is not usable: ", why));
  }
  if (d->index >= n) {
    return absl::FailedPreconditionError(absl::StrCat("device '", name, "' does not exist (",
                                                      n, " CUDA device(s))"));
  }
  return d;
}

}  // namespace kiln
