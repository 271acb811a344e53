// Tensor: a cheap handle (shared pointer) to a TensorImpl = storage + offset + sizes + strides +
// dtype (+ optional autograd data). No math lives here: ops are in ops/api.h (plain) and
// autograd/api.h (differentiable).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "base/check.h"
#include "tensor/device.h"
#include "tensor/dtype.h"
#include "tensor/half.h"
#include "tensor/shape.h"
#include "tensor/storage.h"

namespace kiln {

namespace autograd {
class Node;
}  // namespace autograd

class TensorImpl;

// Autograd data of a tensor (filled by autograd/; tensor/ only stores it).
struct AutogradMeta {
  bool requires_grad = false;
  std::shared_ptr<autograd::Node> grad_fn;  // null for leaves
  int output_nr = 0;                        // which output of grad_fn this tensor is
  std::shared_ptr<TensorImpl> grad;         // accumulated gradient of a leaf
};

class TensorImpl {
 public:
  std::shared_ptr<Storage> storage;
  int64_t offset = 0;  // in elements
  Shape sizes, strides;
  DType dtype = DType::kF32;
  std::shared_ptr<AutogradMeta> autograd;
};

const char* DTypeName(DType t);
template <typename T>
constexpr DType DTypeOf();
template <> constexpr DType DTypeOf<float>() { return DType::kF32; }
template <> constexpr DType DTypeOf<double>() { return DType::kF64; }
template <> constexpr DType DTypeOf<BFloat16>() { return DType::kBF16; }
template <> constexpr DType DTypeOf<Half>() { return DType::kF16; }
template <> constexpr DType DTypeOf<int32_t>() { return DType::kI32; }
template <> constexpr DType DTypeOf<int64_t>() { return DType::kI64; }
template <> constexpr DType DTypeOf<uint8_t>() { return DType::kU8; }
template <> constexpr DType DTypeOf<bool>() { return DType::kBool; }

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  // A new contiguous tensor with uninitialized data.
  static Tensor Empty(const Shape& shape, DType dtype = DType::kF32, Device device = Device::CPU());
  // A view of `storage` (no copy).
  static Tensor MakeView(std::shared_ptr<Storage> storage, int64_t offset, Shape sizes,
                         Shape strides, DType dtype);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return Impl().sizes; }
  const Shape& strides() const { return Impl().strides; }
  int64_t dim() const { return static_cast<int64_t>(Impl().sizes.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return NumElements(Impl().sizes); }
  DType dtype() const { return Impl().dtype; }
  Device device() const { return Impl().storage->device(); }
  int64_t offset() const { return Impl().offset; }
  bool is_contiguous() const;
  const std::shared_ptr<Storage>& storage() const { return Impl().storage; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool SameAs(const Tensor& o) const { return impl_ == o.impl_; }

  // Typed pointer to element 0 (checks the dtype).
  template <typename T>
  T* data() const {
    KILN_CHECK(DTypeOf<T>() == dtype())
        << "data<" << DTypeName(DTypeOf<T>()) << ">(): tensor has dtype " << DTypeName(dtype());
    return static_cast<T*>(storage()->data()) + offset();
  }
  void* raw_data() const {
    return static_cast<char*>(storage()->data()) + offset() * DTypeSize(dtype());
  }

  // A contiguous copy of this tensor on `device` (no autograd history); the tensor itself when it
  // is already there. Copies between host-memory devices (cpu, cuda-sim) are memcpys; to and
  // from a CUDA device they go through the device's stream and are complete on return.
  Tensor To(Device device) const;

  // Element values in row-major order (any strides), converted to T (copied to the host first
  // for a CUDA tensor).
  template <typename T>
  std::vector<T> ToVector() const;
  // The single element of a one-element tensor, as double.
  double item() const;

  // In-place writes (bump the version counter so saved-for-backward checks see them). On a CUDA
  // tensor they round-trip through host memory (slow; for setup and tests, not for kernels).
  void Fill_(double value);
  void CopyFrom_(const Tensor& src);  // same shape; any dtype (converted), any strides
  int64_t version() const { return storage()->version(); }
  void BumpVersion() const { storage()->BumpVersion(); }

  // Autograd data (see autograd/ for what uses it).
  bool requires_grad() const { return impl_ && Impl().autograd && Impl().autograd->requires_grad; }
  Tensor& set_requires_grad(bool value);
  Tensor grad() const;
  void set_grad(const Tensor& g) const;
  AutogradMeta* autograd_meta() const { return Impl().autograd.get(); }
  AutogradMeta& MutableAutogradMeta() const;
  // A tensor sharing this one's data with no autograd history.
  Tensor Detach() const;

  std::string ToString(int64_t max_per_dim = 6) const;

 private:
  TensorImpl& Impl() const {
    KILN_CHECK(impl_ != nullptr) << "use of an undefined tensor";
    return *impl_;
  }
  std::shared_ptr<TensorImpl> impl_;
};

// Factories. Random tensors are pure functions of (seed, offset): element i uses Philox counter
// offset + i, so values do not depend on threads or chunking.
// Each takes the device to create the tensor on (values are made on the host, then copied).
Tensor Zeros(const Shape& shape, DType dtype = DType::kF32, Device device = Device::CPU());
Tensor Ones(const Shape& shape, DType dtype = DType::kF32, Device device = Device::CPU());
Tensor Full(const Shape& shape, double value, DType dtype = DType::kF32,
            Device device = Device::CPU());
Tensor Arange(double start, double end, double step = 1, DType dtype = DType::kI64,
              Device device = Device::CPU());
Tensor Rand(const Shape& shape, uint64_t seed, uint64_t offset = 0, DType dtype = DType::kF32,
            Device device = Device::CPU());
Tensor Randn(const Shape& shape, uint64_t seed, uint64_t offset = 0, DType dtype = DType::kF32,
             Device device = Device::CPU());
template <typename T>
Tensor FromVector(const std::vector<T>& values, const Shape& shape, DType dtype = DTypeOf<T>(),
                  Device device = Device::CPU());
Tensor Scalar(double value, DType dtype = DType::kF32, Device device = Device::CPU());  // 0-d

std::ostream& operator<<(std::ostream& os, const Tensor& t);

}  // namespace kiln
