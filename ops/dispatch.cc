// Tensor -> KArray conversion and backend kernel lookup.
#include "ops/dispatch.h"

#include <chrono>

#include "cpu/backend.h"
#include "cuda/backend.h"
#include "ops/profile.h"

namespace kiln::ops {

KArray ToKArray(const Tensor& t) {
  KArray a;
  if (!t.defined()) return a;
  KILN_CHECK(t.dim() <= kMaxDims) << "tensors have at most " << kMaxDims << " dims, got "
                                  << t.dim();
  a.data = t.raw_data();
  a.dtype = t.dtype();
  a.ndim = static_cast<int32_t>(t.dim());
  for (int64_t d = 0; d < t.dim(); ++d) {
    a.sizes[d] = t.shape()[d];
    a.strides[d] = t.strides()[d];
  }
  return a;
}

KArray ToKArray(Tensor&& t) {
  KILN_CHECK(!t.defined() || t.storage().use_count() > 1)
      << "internal error: ToKArray of a temporary tensor that owns its storage (the kernel would "
         "read freed memory); bind it to a named tensor first";
  return ToKArray(static_cast<const Tensor&>(t));
}

KernelFn GetKernel(Op op, Device device) {
  KernelFn fn = nullptr;
  switch (device.type) {
    case Device::kCPU:
      fn = cpu::CpuKernel(op);
      KILN_CHECK(fn != nullptr) << OpName(op) << ": the CPU backend has no kernel for this op";
      return fn;
    case Device::kCudaSim:
      fn = cuda_sim::TableKernel(op);
      KILN_CHECK(fn != nullptr) << OpName(op) << ": no cuda-sim kernel";
      return fn;
    case Device::kCUDA:
#if KILN_HAVE_CUDA
      fn = cuda::TableKernel(op);
      KILN_CHECK(fn != nullptr) << OpName(op) << ": no cuda kernel";
      return fn;
#else
      KILN_CHECK(false) << OpName(op) << ": device " << device.ToString()
                        << " is not available: kiln was built without CUDA (KILN_CUDA=OFF)";
#endif
  }
  KILN_CHECK(false) << OpName(op) << ": unknown device " << device.ToString();
  return nullptr;
}

void RunKernel(Op op, const KernelArgs& args, Device device) {
  KernelFn fn = GetKernel(op, device);
#if KILN_HAVE_CUDA
  if (device.type == Device::kCUDA) cuda::SetLaunchDevice(device.index);
#endif
  if (!ProfilingEnabled()) {
    fn(args);
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  fn(args);
  RecordKernel(op, args,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
}

void CheckFloat(const Tensor& t, const char* op, const char* what) {
  KILN_CHECK(t.defined()) << op << ": " << what << " is undefined";
  KILN_CHECK(t.dtype() == DType::kF32 || t.dtype() == DType::kF64)
      << op << ": expected " << what << " of dtype f32 or f64, got " << DTypeName(t.dtype())
      << " (cast bf16/f16 storage to f32 first)";
}

void CheckSameDtype(const Tensor& a, const Tensor& b, const char* op) {
  KILN_CHECK(a.dtype() == b.dtype()) << op << ": dtype mismatch, " << DTypeName(a.dtype())
                                     << " vs " << DTypeName(b.dtype());
  KILN_CHECK(a.device() == b.device()) << op << ": device mismatch, " << a.device().ToString()
                                       << " vs " << b.device().ToString();
}

DType GemmDtype(const Tensor& a, const Tensor& b, const char* op, const char* what_a,
                const char* what_b) {
  for (const auto& [t, what] : {std::pair{&a, what_a}, std::pair{&b, what_b}}) {
    KILN_CHECK(t->defined()) << op << ": " << what << " is undefined";
    KILN_CHECK(t->dtype() == DType::kF32 || t->dtype() == DType::kF64 ||
               t->dtype() == DType::kBF16)
        << op << ": expected " << what << " of dtype f32, bf16 or f64, got "
        << DTypeName(t->dtype());
  }
  KILN_CHECK((a.dtype() == DType::kF64) == (b.dtype() == DType::kF64))
      << op << ": dtype mismatch, " << DTypeName(a.dtype()) << " vs " << DTypeName(b.dtype())
      << " (f64 goes with f64 only; f32 and bf16 mix)";
  KILN_CHECK(a.device() == b.device()) << op << ": device mismatch, " << a.device().ToString()
                                       << " vs " << b.device().ToString();
  return a.dtype() == DType::kF64 ? DType::kF64 : DType::kF32;
}

void CheckIndexDtype(const Tensor& t, const char* op, const char* what) {
  KILN_CHECK(t.defined()) << op << ": " << what << " is undefined";
  KILN_CHECK(IsIndex(t.dtype())) << op << ": expected " << what << " of dtype i32 or i64, got "
                                 << DTypeName(t.dtype());
}

}  // namespace kiln::ops
