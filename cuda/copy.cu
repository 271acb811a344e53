// CUDA kernels of the Contiguous and Concat rows: a strided copy of up to 8 dims (both rows are a
// copy of one operand into a contiguous tensor or into a strided slice of the output, as on the
// CPU), by element size, so any dtype moves bit for bit. One thread per element; the flat index
// is decoded into the source and destination offsets.
#include "cuda/kernels.h"
#include "cuda/portable.h"

namespace kiln::KILN_CUDA_NS {
namespace {

constexpr int kThreads = 256;
constexpr int kMaxCopyDims = 8;

struct CopyShape {
  int ndim;
  int64_t sizes[kMaxCopyDims];
  int64_t dst_strides[kMaxCopyDims];
  int64_t src_strides[kMaxCopyDims];
};

template <typename U>
__global__ void StridedCopyKernel(U* __restrict__ dst, const U* __restrict__ src, int64_t numel,
                                  CopyShape s) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t e = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < numel;
       e += stride) {
    int64_t rem = e, d_off = 0, s_off = 0;
    for (int d = s.ndim - 1; d >= 0; --d) {
      const int64_t i = rem % s.sizes[d];
      rem /= s.sizes[d];
      d_off += i * s.dst_strides[d];
      s_off += i * s.src_strides[d];
    }
    dst[d_off] = src[s_off];
  }
}

template <typename U>
void LaunchCopy(void* dst, const void* src, int64_t numel, const CopyShape& s, Stream stream) {
  int64_t blocks = (numel + kThreads - 1) / kThreads;
  if (blocks > 4096) blocks = 4096;
  KILN_LAUNCH(StridedCopyKernel<U>, dim3(static_cast<unsigned>(blocks)), dim3(kThreads), 0, stream,
              static_cast<U*>(dst), static_cast<const U*>(src), numel, s);
}

}  // namespace

void StridedCopy(void* dst, const int64_t* dst_strides, const void* src,
                 const int64_t* src_strides, const int64_t* sizes, int ndim, int element_size,
                 Stream stream) {
  KILN_CHECK(ndim >= 0 && ndim <= kMaxCopyDims)
      << "cuda StridedCopy: " << ndim << " dims, at most " << kMaxCopyDims;
  KILN_CHECK(element_size == 1 || element_size == 2 || element_size == 4 || element_size == 8)
      << "cuda StridedCopy: element size " << element_size;
  CopyShape s{};
  s.ndim = ndim;
  int64_t numel = 1;
  for (int d = 0; d < ndim; ++d) {
    KILN_CHECK(sizes[d] >= 0) << "cuda StridedCopy: negative size " << sizes[d];
    s.sizes[d] = sizes[d];
    s.dst_strides[d] = dst_strides[d];
    s.src_strides[d] = src_strides[d];
    numel *= sizes[d];
  }
  if (numel == 0) return;
  switch (element_size) {
    case 1: return LaunchCopy<uint8_t>(dst, src, numel, s, stream);
    case 2: return LaunchCopy<uint16_t>(dst, src, numel, s, stream);
    case 4: return LaunchCopy<uint32_t>(dst, src, numel, s, stream);
    default: return LaunchCopy<uint64_t>(dst, src, numel, s, stream);
  }
}

}  // namespace kiln::KILN_CUDA_NS
