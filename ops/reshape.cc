// Reshape / View / Squeeze / Unsqueeze (row Reshape, a VIEW): new sizes and strides over the same
// storage when the strides allow it (PyTorch's computeStride rule), else (Reshape only) a copy.
#include <optional>

#include "ops/api.h"
#include "ops/backward.h"

namespace kiln::ops {
namespace {

Shape InferShape(const Shape& shape, int64_t numel, const char* op) {
  Shape out = shape;
  int64_t known = 1, infer = -1;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out[i] == -1) {
      KILN_CHECK(infer < 0) << op << ": only one dim may be -1, got shape " << ShapeToString(shape);
      infer = static_cast<int64_t>(i);
    } else {
      KILN_CHECK(out[i] >= 0) << op << ": invalid size " << out[i] << " in shape "
                              << ShapeToString(shape);
      known *= out[i];
    }
  }
  if (infer >= 0) {
    KILN_CHECK(known != 0 && numel % known == 0)
        << op << ": shape " << ShapeToString(shape) << " is invalid for " << numel << " elements";
    out[infer] = numel / known;
  }
  KILN_CHECK(NumElements(out) == numel)
      << op << ": shape " << ShapeToString(shape) << " is invalid for " << numel << " elements";
  return out;
}

std::optional<Shape> ViewStrides(const Shape& old_sizes, const Shape& old_strides,
                                 const Shape& new_sizes) {
  Shape new_strides(new_sizes.size());
  if (old_sizes.empty() || NumElements(old_sizes) == 0) return ContiguousStrides(new_sizes);
  int64_t view_d = static_cast<int64_t>(new_sizes.size()) - 1;
  int64_t chunk_base_stride = old_strides.back();
  int64_t tensor_numel = 1, view_numel = 1;
  for (int64_t tensor_d = static_cast<int64_t>(old_sizes.size()) - 1; tensor_d >= 0; --tensor_d) {
    tensor_numel *= old_sizes[tensor_d];
    if (tensor_d == 0 || (old_sizes[tensor_d - 1] != 1 &&
                          old_strides[tensor_d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || new_sizes[view_d] == 1)) {
        new_strides[view_d] = view_numel * chunk_base_stride;
        view_numel *= new_sizes[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return std::nullopt;
      if (tensor_d > 0) {
        chunk_base_stride = old_strides[tensor_d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  if (view_d != -1) return std::nullopt;
  return new_strides;
}

}  // namespace

Tensor View(const Tensor& x, const Shape& shape) {
  Shape sizes = InferShape(shape, x.numel(), "View");
  KILN_CHECK(sizes.size() <= 8)
      << "View: at most 8 dims, got " << sizes.size();
  auto strides = ViewStrides(x.shape(), x.strides(), sizes);
  KILN_CHECK(strides.has_value()) << "View: cannot view a tensor of shape "
                                  << ShapeToString(x.shape()) << " and strides "
                                  << ShapeToString(x.strides()) << " as "
                                  << ShapeToString(sizes)
                                  << " without a copy (use Reshape, or Contiguous first)";
  return Tensor::MakeView(x.storage(), x.offset(), sizes, *strides, x.dtype());
}

Tensor Reshape(const Tensor& x, const Shape& shape) {
  Shape sizes = InferShape(shape, x.numel(), "Reshape");
  if (ViewStrides(x.shape(), x.strides(), sizes).has_value()) return View(x, sizes);
  return View(Contiguous(x), sizes);
}

Tensor Squeeze(const Tensor& x, int64_t dim) {
  int64_t d = NormalizeDim(dim, x.dim(), "Squeeze");
  KILN_CHECK(x.shape()[d] == 1) << "Squeeze: dim " << dim << " has size " << x.shape()[d]
                                << ", expected 1 (shape " << ShapeToString(x.shape()) << ")";
  Shape sizes = x.shape(), strides = x.strides();
  sizes.erase(sizes.begin() + d);
  strides.erase(strides.begin() + d);
  return Tensor::MakeView(x.storage(), x.offset(), sizes, strides, x.dtype());
}

Tensor Unsqueeze(const Tensor& x, int64_t dim) {
  int64_t d = NormalizeDim(dim, x.dim() + 1, "Unsqueeze");
  KILN_CHECK(x.dim() < 8) << "Unsqueeze: at most 8 dims";
  Shape sizes = x.shape(), strides = x.strides();
  int64_t stride = d < x.dim() ? x.strides()[d] * x.shape()[d] : 1;
  sizes.insert(sizes.begin() + d, 1);
  strides.insert(strides.begin() + d, stride);
  return Tensor::MakeView(x.storage(), x.offset(), sizes, strides, x.dtype());
}

// attrs.ints: the input's shape.
std::vector<Tensor> BackwardReshape(const BackwardCtx& ctx) {
  Shape in_shape(ctx.attrs.ints.begin(), ctx.attrs.ints.end());
  return {Reshape(Contiguous(ctx.grads[0]), in_shape)};
}

}  // namespace kiln::ops
