// KILN_CHECK: the one way a caller's mistake is reported. It throws kiln::Error with a one-line
// message (what was expected, what was given) and the file:line, as PyTorch's TORCH_CHECK does,
// so tests can EXPECT_THROW and a CLI can print one line and exit non-zero.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace kiln {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace internal {

class CheckMessage {
 public:
  template <typename T>
  CheckMessage& operator<<(const T& v) {
    os_ << v;
    return *this;
  }
  std::string str() const { return os_.str(); }

 private:
  std::ostringstream os_;
};

class CheckThrower {
 public:
  CheckThrower(const char* file, int line, const char* cond)
      : file_(file), line_(line), cond_(cond) {}
  [[noreturn]] void operator=(const CheckMessage& msg) const;

 private:
  const char* file_;
  int line_;
  const char* cond_;
};

}  // namespace internal
}  // namespace kiln

// Usage: KILN_CHECK(a.dim() == 2) << "Matmul: expected a 2-D tensor, got " << a.dim() << "-D";
#define KILN_CHECK(cond)                  \
  if (__builtin_expect(!!(cond), 1)) {    \
  } else                                  \
    ::kiln::internal::CheckThrower(__FILE__, __LINE__, #cond) = ::kiln::internal::CheckMessage()

// Internal invariants (a kiln bug, not a caller mistake): same mechanism, different prefix.
#define KILN_DCHECK(cond) KILN_CHECK(cond) << "internal error: "
