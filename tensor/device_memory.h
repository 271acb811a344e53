// Device memory: the allocator of each device, byte copies between devices, the stream of a CUDA
// device. CPU and cuda-sim tensors live in host memory (the host caching allocator); CUDA tensors
// in device memory from a per-device caching allocator over cudaMalloc (only in builds with
// KILN_CUDA; elsewhere a CUDA device is an error naming the build). docs/cuda.md, "Runtime".
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "tensor/device.h"
#include "tensor/storage.h"

struct CUstream_st;

namespace kiln {

// Whether the device's memory is host memory (CPU, cuda-sim).
inline bool IsHostMemory(Device d) { return d.type != Device::kCUDA; }

// The allocator tensors on `d` get their storage from. Throws for a CUDA device in a build
// without CUDA, or one this machine does not have.
Allocator* DeviceAllocator(Device d);

// Copies `nbytes` from src (on src_dev) to dst (on dst_dev). A copy that ends in host memory
// waits for the device's stream, so the bytes are there on return.
void CopyBytes(void* dst, Device dst_dev, const void* src, Device src_dev, int64_t nbytes);

// The one stream of a CUDA device (kernels, copies and frees are ordered on it); null for host
// devices.
CUstream_st* DeviceStream(Device d);
// Waits until the device's stream has finished its work (no-op for host devices).
void SynchronizeDevice(Device d);

// CUDA devices usable by this process, or 0 with `why` set (no CUDA in this build, no driver,
// no device).
int CudaDeviceCount(std::string* why);

// Statistics of a CUDA device's caching allocator (zeros elsewhere), and releasing its cache.
AllocatorStats DeviceAllocatorStats(Device d);
void ReleaseDeviceAllocatorCache(Device d);
// Whether a CUDA device's blocks carry red zones (tensor/red_zone.h: on in sanitizer builds,
// KILN_CUDA_REDZONE=1 / 0 in any build; read when the device is first used); false for host
// devices (their sanitizer builds get AddressSanitizer's own red zones instead).
bool DeviceRedZones(Device d);

// "cpu", "cuda", "cuda:N", "cuda-sim" -> Device; anything else is an error naming the value.
// Parsing does not check that the device exists (UsableDevice does).
absl::StatusOr<Device> ParseDevice(const std::string& name);
// ParseDevice, then for CUDA: the build has CUDA and the device exists; one-line errors.
absl::StatusOr<Device> UsableDevice(const std::string& name);

// The size class of an allocation of nbytes (64-byte multiples up to 1 KiB, then 8 classes per
// power of two), shared by the host and device caching allocators.
int64_t AllocationClassSize(int64_t nbytes);

}  // namespace kiln
