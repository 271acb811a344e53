// Tensor handle basics: construction, element access with any strides, in-place fill/copy,
// autograd data accessors, factories.
#include "tensor/tensor.h"

#include <cmath>
#include <cstring>

#include "base/rng.h"
#include "base/thread_pool.h"
#include "tensor/device_memory.h"
#include "tensor/element.h"

namespace kiln {

const char* DTypeName(DType t) {
  switch (t) {
    case DType::kF32:
      return "f32";
    case DType::kF64:
      return "f64";
    case DType::kBF16:
      return "bf16";
    case DType::kF16:
      return "f16";
    case DType::kI32:
      return "i32";
    case DType::kI64:
      return "i64";
    case DType::kU8:
      return "u8";
    case DType::kBool:
      return "bool";
  }
  return "?";
}

Tensor Tensor::Empty(const Shape& shape, DType dtype, Device device) {
  for (int64_t s : shape)
    KILN_CHECK(s >= 0) << "Empty: negative size in shape " << ShapeToString(shape);
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(NumElements(shape) * DTypeSize(dtype), device,
                                            DeviceAllocator(device));
  impl->sizes = shape;
  impl->strides = ContiguousStrides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor Tensor::MakeView(std::shared_ptr<Storage> storage, int64_t offset, Shape sizes,
                        Shape strides, DType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::move(storage);
  impl->offset = offset;
  impl->sizes = std::move(sizes);
  impl->strides = std::move(strides);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

int64_t Tensor::size(int64_t d) const { return shape()[NormalizeDim(d, dim(), "size")]; }

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (int64_t d = dim() - 1; d >= 0; --d) {
    if (shape()[d] == 1) continue;
    if (strides()[d] != expected) return false;
    expected *= shape()[d];
  }
  return true;
}

namespace {

// The element offsets [lo, hi] a strided view touches (lo = hi = offset when empty).
std::pair<int64_t, int64_t> ElementSpan(const Tensor& t) {
  int64_t lo = t.offset(), hi = t.offset();
  if (t.numel() == 0) return {lo, hi};
  for (int64_t d = 0; d < t.dim(); ++d) {
    const int64_t reach = (t.shape()[d] - 1) * t.strides()[d];
    if (reach < 0) lo += reach; else hi += reach;
  }
  return {lo, hi};
}

// Runs fn on a host view of a CUDA tensor's bytes (the span it touches is copied to the host
// and, when `write_back`, copied back afterwards).
template <typename Fn>
void WithHostView(const Tensor& t, bool write_back, Fn&& fn) {
  const auto [lo, hi] = ElementSpan(t);
  const int64_t esize = DTypeSize(t.dtype());
  const int64_t n = t.numel() == 0 ? 0 : hi - lo + 1;
  Tensor host = Tensor::Empty({n}, t.dtype());
  char* dev = static_cast<char*>(t.storage()->data()) + lo * esize;
  CopyBytes(host.raw_data(), Device::CPU(), dev, t.device(), n * esize);
  fn(Tensor::MakeView(host.storage(), t.offset() - lo, t.shape(), t.strides(), t.dtype()));
  if (write_back) CopyBytes(dev, t.device(), host.raw_data(), Device::CPU(), n * esize);
}

}  // namespace

Tensor Tensor::To(Device device) const {
  if (this->device() == device) return *this;
  Tensor out = Empty(shape(), dtype(), device);
  const int64_t nbytes = numel() * DTypeSize(dtype());
  if (is_contiguous()) {
    CopyBytes(out.raw_data(), device, raw_data(), this->device(), nbytes);
    return out;
  }
  // Non-contiguous: gather into a contiguous host tensor first.
  Tensor dense = Empty(shape(), dtype());
  const int64_t esize = DTypeSize(dtype());
  auto gather = [&](const Tensor& src) {
    const char* base = static_cast<const char*>(src.storage()->data());
    char* dst = static_cast<char*>(dense.raw_data());
    int64_t i = 0;
    ForEachOffset(src.shape(), src.strides(), src.offset(), [&](int64_t off) {
      std::memcpy(dst + (i++) * esize, base + off * esize, static_cast<size_t>(esize));
    });
  };
  if (IsHostMemory(this->device())) {
    gather(*this);
  } else {
    WithHostView(*this, false, gather);
  }
  CopyBytes(out.raw_data(), device, dense.raw_data(), Device::CPU(), nbytes);
  return out;
}

template <typename T>
std::vector<T> Tensor::ToVector() const {
  if (!IsHostMemory(device())) return To(Device::CPU()).ToVector<T>();
  std::vector<T> out(static_cast<size_t>(numel()));
  const char* base = static_cast<const char*>(storage()->data());
  int64_t esize = DTypeSize(dtype());
  size_t i = 0;
  ForEachOffset(shape(), strides(), offset(),
                [&](int64_t off) { out[i++] = ReadElement<T>(base + off * esize, dtype()); });
  return out;
}

double Tensor::item() const {
  KILN_CHECK(numel() == 1) << "item(): expected a tensor with one element, got shape "
                           << ShapeToString(shape());
  return ToVector<double>()[0];
}

void Tensor::Fill_(double value) {
  if (!IsHostMemory(device())) {
    WithHostView(*this, true, [&](Tensor h) { h.Fill_(value); });
    BumpVersion();
    return;
  }
  char* base = static_cast<char*>(storage()->data());
  int64_t esize = DTypeSize(dtype());
  DType dt = dtype();
  ForEachOffset(shape(), strides(), offset(),
                [&](int64_t off) { WriteElement<double>(base + off * esize, dt, value); });
  BumpVersion();
}

void Tensor::CopyFrom_(const Tensor& src) {
  KILN_CHECK(src.shape() == shape()) << "CopyFrom_: shape " << ShapeToString(src.shape())
                                     << " does not match destination " << ShapeToString(shape());
  if (!IsHostMemory(device())) {
    WithHostView(*this, true, [&](Tensor h) { h.CopyFrom_(src); });
    BumpVersion();
    return;
  }
  // Read everything first: source and destination may overlap.
  char* base = static_cast<char*>(storage()->data());
  int64_t esize = DTypeSize(dtype());
  DType dt = dtype();
  if (IsFloating(dt)) {
    std::vector<double> values = src.ToVector<double>();
    size_t i = 0;
    ForEachOffset(shape(), strides(), offset(),
                  [&](int64_t off) { WriteElement<double>(base + off * esize, dt, values[i++]); });
  } else {
    std::vector<int64_t> values = src.ToVector<int64_t>();
    size_t i = 0;
    ForEachOffset(shape(), strides(), offset(),
                  [&](int64_t off) { WriteElement<int64_t>(base + off * esize, dt, values[i++]); });
  }
  BumpVersion();
}

Tensor& Tensor::set_requires_grad(bool value) {
  if (value) {
    KILN_CHECK(IsFloating(dtype())) << "set_requires_grad: only floating tensors can require "
                                       "gradients, this one has dtype "
                                    << DTypeName(dtype());
  }
  MutableAutogradMeta().requires_grad = value;
  return *this;
}

AutogradMeta& Tensor::MutableAutogradMeta() const {
  if (!Impl().autograd) Impl().autograd = std::make_shared<AutogradMeta>();
  return *Impl().autograd;
}

Tensor Tensor::grad() const {
  if (!impl_ || !Impl().autograd || !Impl().autograd->grad) return Tensor();
  return Tensor(Impl().autograd->grad);
}

void Tensor::set_grad(const Tensor& g) const {
  MutableAutogradMeta().grad = g.defined() ? g.impl_ptr() : nullptr;
}

Tensor Tensor::Detach() const { return MakeView(storage(), offset(), shape(), strides(), dtype()); }

Tensor Zeros(const Shape& shape, DType dtype, Device device) {
  return Full(shape, 0.0, dtype, device);
}
Tensor Ones(const Shape& shape, DType dtype, Device device) {
  return Full(shape, 1.0, dtype, device);
}

Tensor Full(const Shape& shape, double value, DType dtype, Device device) {
  Tensor t = Tensor::Empty(shape, dtype, IsHostMemory(device) ? device : Device::CPU());
  t.Fill_(value);
  return t.To(device);
}

Tensor Scalar(double value, DType dtype, Device device) { return Full({}, value, dtype, device); }

Tensor Arange(double start, double end, double step, DType dtype, Device device) {
  KILN_CHECK(step != 0) << "Arange: step must be non-zero";
  double n_f = std::ceil((end - start) / step);
  int64_t n = n_f > 0 ? static_cast<int64_t>(n_f) : 0;
  Tensor t = Tensor::Empty({n}, dtype);
  char* base = static_cast<char*>(t.raw_data());
  for (int64_t i = 0; i < n; ++i) {
    WriteElement<double>(base + i * DTypeSize(dtype), dtype, start + static_cast<double>(i) * step);
  }
  return t.To(device);
}

Tensor Rand(const Shape& shape, uint64_t seed, uint64_t offset, DType dtype, Device device) {
  KILN_CHECK(dtype == DType::kF32 || dtype == DType::kF64)
      << "Rand: expected dtype f32 or f64, got " << DTypeName(dtype);
  Tensor t = Tensor::Empty(shape, dtype);
  int64_t n = t.numel();
  if (dtype == DType::kF32) {
    float* p = t.data<float>();
    kiln::ParallelForWork(n, 1, 4096, [&](int64_t i_lo, int64_t i_hi) {
      for (int64_t i = i_lo; i < i_hi; ++i) p[i] = UniformFromBits(Philox(seed, offset + i).v[0]);
    });
  } else {
    double* p = t.data<double>();
    kiln::ParallelForWork(n, 1, 4096, [&](int64_t i_lo, int64_t i_hi) {
      for (int64_t i = i_lo; i < i_hi; ++i) {
        auto b = Philox(seed, offset + i);
        p[i] = UniformDoubleFromBits(b.v[0], b.v[1]) - 0x1p-53;
      }
    });
  }
  return t.To(device);
}

Tensor Randn(const Shape& shape, uint64_t seed, uint64_t offset, DType dtype, Device device) {
  KILN_CHECK(dtype == DType::kF32 || dtype == DType::kF64)
      << "Randn: expected dtype f32 or f64, got " << DTypeName(dtype);
  Tensor t = Tensor::Empty(shape, dtype);
  int64_t n = t.numel();
  if (dtype == DType::kF32) {
    float* p = t.data<float>();
    kiln::ParallelForWork(n, 1, 4096, [&](int64_t i_lo, int64_t i_hi) {
      for (int64_t i = i_lo; i < i_hi; ++i)
        p[i] = static_cast<float>(NormalFromBlock(Philox(seed, offset + i)));
    });
  } else {
    double* p = t.data<double>();
    kiln::ParallelForWork(n, 1, 4096, [&](int64_t i_lo, int64_t i_hi) {
      for (int64_t i = i_lo; i < i_hi; ++i) p[i] = NormalFromBlock(Philox(seed, offset + i));
    });
  }
  return t.To(device);
}

template <typename T>
Tensor FromVector(const std::vector<T>& values, const Shape& shape, DType dtype, Device device) {
  KILN_CHECK(static_cast<int64_t>(values.size()) == NumElements(shape))
      << "FromVector: " << values.size() << " values do not fill shape " << ShapeToString(shape);
  Tensor t = Tensor::Empty(shape, dtype);
  char* base = static_cast<char*>(t.raw_data());
  for (size_t i = 0; i < values.size(); ++i) {
    WriteElement<T>(base + static_cast<int64_t>(i) * DTypeSize(dtype), dtype, values[i]);
  }
  return t.To(device);
}

#define KILN_TENSOR_INSTANTIATE(T)                     \
  template std::vector<T> Tensor::ToVector<T>() const; \
  template Tensor FromVector<T>(const std::vector<T>&, const Shape&, DType, Device);
KILN_TENSOR_INSTANTIATE(float)
KILN_TENSOR_INSTANTIATE(double)
KILN_TENSOR_INSTANTIATE(int32_t)
KILN_TENSOR_INSTANTIATE(int64_t)
KILN_TENSOR_INSTANTIATE(uint8_t)
#undef KILN_TENSOR_INSTANTIATE

// bool vectors are bit-packed in C++; store through a byte vector.
template <>
Tensor FromVector<bool>(const std::vector<bool>& values, const Shape& shape, DType dtype,
                        Device device) {
  std::vector<uint8_t> bytes(values.begin(), values.end());
  return FromVector<uint8_t>(bytes, shape, dtype, device);
}

}  // namespace kiln
