// The portable kernel subset's vocabulary (docs/cuda.md). A cuda/<op>.cu file includes this first
// and then defines its kernels and launchers inside namespace kiln::KILN_CUDA_NS:
//   - under nvcc, KILN_CUDA_NS is `cuda` and everything below is plain CUDA;
//   - compiled as C++ for the interpreter (KILN_CUDA_SIM, see cuda/interp/), KILN_CUDA_NS is
//     `cuda_sim` and threadIdx, __syncthreads, __shfl_*_sync, atomics... come from
//     cuda/interp/runtime.h, so the same source runs on the CPU.
// Shared memory only through KILN_SHARED / KILN_DYNAMIC_SHARED, launches only through KILN_LAUNCH.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/check.h"  // launchers check their arguments with KILN_CHECK

#if defined(__CUDACC__) && !defined(KILN_CUDA_SIM)

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "cuda/check.h"

#define KILN_CUDA_NS cuda
#define KILN_CUDA_DEVICE 1

// KILN_SHARED(float, tile, [32][33]) declares `__shared__ float tile[32][33]`.
#define KILN_SHARED(type, name, dims) __shared__ type name dims
// The launch's dynamic shared memory as a `type*` (16-byte aligned).
#define KILN_DYNAMIC_SHARED(type, name)                                 \
  extern __shared__ __align__(16) unsigned char kiln_dynamic_smem_[]; \
  type* name = reinterpret_cast<type*>(kiln_dynamic_smem_)
// Templated kernels with commas in their arguments go through an alias first.
#define KILN_LAUNCH(kernel, grid, block, smem, stream, ...)     \
  do {                                                          \
    kernel<<<(grid), (block), (smem), (stream)>>>(__VA_ARGS__); \
    ::kiln::cuda::CheckLaunch(#kernel, __FILE__, __LINE__);     \
  } while (0)

#else  // the interpreter

#ifndef KILN_CUDA_SIM
#define KILN_CUDA_SIM 1
#endif
#include "cuda/interp/runtime.h"

#define KILN_CUDA_NS cuda_sim
#define KILN_CUDA_DEVICE 0

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __align__(n) alignas(n)
#define __shared__ kiln_portable_kernels_declare_shared_memory_with_KILN_SHARED
#define threadIdx (::kiln::cuda_sim::detail::tls_thread->tid)
#define blockIdx (::kiln::cuda_sim::detail::tls_block->bid)
#define blockDim (::kiln::cuda_sim::detail::tls_block->bdim)
#define gridDim (::kiln::cuda_sim::detail::tls_block->gdim)
#define warpSize 32

#define KILN_SHARED(type, name, dims)                                                         \
  static const char kiln_shared_site_##name = 0;                                              \
  type(&name) dims = *reinterpret_cast<type(*) dims>(::kiln::cuda_sim::detail::SharedAlloc( \
      &kiln_shared_site_##name, sizeof(type dims), alignof(type), #name))
#define KILN_DYNAMIC_SHARED(type, name) \
  type* name = static_cast<type*>(::kiln::cuda_sim::detail::DynamicShared())
#define KILN_LAUNCH(kernel, grid, block, smem, stream, ...)                                   \
  ::kiln::cuda_sim::Launch(#kernel, __FILE__, __LINE__, kernel, (grid), (block), (smem), (stream), \
                           __VA_ARGS__)

#endif

// Launchers' stream type, the same in both builds (cudaStream_t is CUstream_st*).
struct CUstream_st;
namespace kiln::KILN_CUDA_NS {
using Stream = ::CUstream_st*;
}  // namespace kiln::KILN_CUDA_NS
