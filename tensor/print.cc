// A readable printer: nested brackets, '...' past max_per_dim entries per dim, %.4g for floats.
#include <ostream>
#include <sstream>

#include "absl/strings/str_format.h"
#include "tensor/element.h"
#include "tensor/tensor.h"

namespace kiln {
namespace {

void PrintRec(std::ostringstream& os, const Tensor& t, int64_t d, int64_t off, int64_t max_per_dim,
              int indent) {
  const char* base = static_cast<const char*>(t.storage()->data());
  int64_t esize = DTypeSize(t.dtype());
  if (d == t.dim()) {
    const char* p = base + off * esize;
    if (IsFloating(t.dtype())) {
      os << absl::StrFormat("%.4g", ReadElement<double>(p, t.dtype()));
    } else if (t.dtype() == DType::kBool) {
      os << (ReadElement<int64_t>(p, t.dtype()) ? "true" : "false");
    } else {
      os << ReadElement<int64_t>(p, t.dtype());
    }
    return;
  }
  int64_t n = t.shape()[d];
  os << "[";
  for (int64_t i = 0; i < n; ++i) {
    if (n > max_per_dim && i == max_per_dim / 2) {
      os << "...";
      i = n - max_per_dim / 2 - 1;
      if (i + 1 < n) os << (d + 1 == t.dim() ? ", " : ",\n" + std::string(indent + 1, ' '));
      continue;
    }
    PrintRec(os, t, d + 1, off + i * t.strides()[d], max_per_dim, indent + 1);
    if (i + 1 < n) os << (d + 1 == t.dim() ? ", " : ",\n" + std::string(indent + 1, ' '));
  }
  os << "]";
}

}  // namespace

std::string Tensor::ToString(int64_t max_per_dim) const {
  if (!defined()) return "Tensor(undefined)";
  std::ostringstream os;
  os << "Tensor(shape=" << ShapeToString(shape()) << ", dtype=" << DTypeName(dtype());
  if (requires_grad()) os << ", requires_grad";
  os << ")\n";
  PrintRec(os, *this, 0, offset(), max_per_dim < 2 ? 2 : max_per_dim, 0);
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.ToString(); }

}  // namespace kiln
