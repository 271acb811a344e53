// Differentiable views: plain view + Record with the attributes the backward formula reads.
#include "autograd/api.h"
#include "autograd/node.h"

namespace kiln {
namespace {

OpAttrs ShapeAttrs(const Shape& s) {
  OpAttrs a;
  a.ints.assign(s.begin(), s.end());
  return a;
}

Tensor RecordReshape(const Tensor& x, Tensor out) {
  return autograd::Record(Op::kReshape, {x}, {std::move(out)}, ShapeAttrs(x.shape()), -1,
                          autograd::kSaveNone, autograd::kSaveNone)[0];
}

}  // namespace

Tensor View(const Tensor& x, const Shape& shape) { return RecordReshape(x, ops::View(x, shape)); }
Tensor Reshape(const Tensor& x, const Shape& shape) {
  return RecordReshape(x, ops::Reshape(x, shape));
}
Tensor Squeeze(const Tensor& x, int64_t dim) { return RecordReshape(x, ops::Squeeze(x, dim)); }
Tensor Unsqueeze(const Tensor& x, int64_t dim) { return RecordReshape(x, ops::Unsqueeze(x, dim)); }

Tensor Permute(const Tensor& x, const std::vector<int64_t>& dims) {
  Tensor out = ops::Permute(x, dims);
  OpAttrs a;
  for (int64_t d : dims) a.ints.push_back(NormalizeDim(d, x.dim(), "Permute"));
  return autograd::Record(Op::kPermute, {x}, {out}, a, -1, autograd::kSaveNone,
                          autograd::kSaveNone)[0];
}

Tensor Transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
  int64_t a = NormalizeDim(dim0, x.dim(), "Transpose"), b = NormalizeDim(dim1, x.dim(), "Transpose");
  std::vector<int64_t> dims(x.dim());
  for (int64_t i = 0; i < x.dim(); ++i) dims[i] = i;
  std::swap(dims[a], dims[b]);
  return Permute(x, dims);
}

Tensor Narrow(const Tensor& x, int64_t dim, int64_t start, int64_t length) {
  Tensor out = ops::Narrow(x, dim, start, length);
  OpAttrs a;
  a.ints.push_back(NormalizeDim(dim, x.dim(), "Narrow"));
  a.ints.push_back(start < 0 ? start + x.shape()[a.ints[0]] : start);
  a.ints.insert(a.ints.end(), x.shape().begin(), x.shape().end());
  return autograd::Record(Op::kNarrow, {x}, {out}, a, -1, autograd::kSaveNone,
                          autograd::kSaveNone)[0];
}

std::vector<Tensor> Split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  ops::Split(x, sizes, dim);  // validates
  std::vector<Tensor> out;
  int64_t start = 0;
  for (int64_t s : sizes) {
    out.push_back(Narrow(x, dim, start, s));
    start += s;
  }
  return out;
}

std::vector<Tensor> Unbind(const Tensor& x, int64_t dim) {
  std::vector<Tensor> outs = ops::Unbind(x, dim);
  OpAttrs a;
  a.ints.push_back(NormalizeDim(dim, x.dim(), "Unbind"));
  for (int64_t s : x.shape()) a.ints.push_back(s);
  return autograd::Record(Op::kUnbind, {x}, std::move(outs), a, -1, autograd::kSaveNone,
                          autograd::kSaveNone);
}

Tensor Expand(const Tensor& x, const Shape& shape) {
  return autograd::Record(Op::kExpand, {x}, {ops::Expand(x, shape)}, ShapeAttrs(x.shape()), -1,
                          autograd::kSaveNone, autograd::kSaveNone)[0];
}

}  // namespace kiln
