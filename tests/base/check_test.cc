#include "base/check.h"

#include <gtest/gtest.h>

namespace kiln {
namespace {

TEST(CheckTest, ThrowsErrorWithMessageAndLocation) {
  try {
    int dims = 3;
    KILN_CHECK(dims == 2) << "Matmul: expected a 2-D tensor, got " << dims << "-D";
    FAIL() << "no throw";
  } catch (const Error& e) {
    std::string what = e.what();
    EXPECT_NE(what.find("Matmul: expected a 2-D tensor, got 3-D"), std::string::npos) << what;
    EXPECT_NE(what.find("check_test.cc:"), std::string::npos) << what;
  }
}

TEST(CheckTest, PassingCheckDoesNothing) { EXPECT_NO_THROW(KILN_CHECK(1 + 1 == 2) << "never"); }

}  // namespace
}  // namespace kiln
