// CUDA kernel coverage: every row of ops/ops.def with a kernel (KERNEL, BACKWARD, UPDATE) needs a
// CUDA kernel test through the interpreter, or a place on the pending list below. A kernel test
// file declares what it tests with a line
//   // kiln-cuda-covers: Name Name ...
// (names of ops.def rows). This test fails for a row that is neither covered nor pending, for a
// pending row that is covered (take it off the list), and for a name that is not a row; it prints
// the pending list on every run so the gap shows in CI logs. Issue 7 stays open until the list is
// empty.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "ops/op_enum.h"

namespace kiln {
namespace {

// Rows whose CUDA kernel (and its test) does not exist yet.
// Empty: every kernel row has a CUDA kernel test. A new row without one goes here.
const std::vector<std::string> kPending = {};

constexpr char kMarker[] = "// kiln-cuda-covers:";

// Row name -> the test files that declare it.
std::map<std::string, std::vector<std::string>> DeclaredCoverage() {
  std::map<std::string, std::vector<std::string>> covered;
  for (const auto& entry : std::filesystem::directory_iterator("tests/cuda")) {
    const std::string name = entry.path().filename().string();
    if (name.size() < 17 || name.substr(name.size() - 15) != "_kernel_test.cc") continue;
    std::ifstream in(entry.path());
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(kMarker, 0) != 0) continue;
      std::istringstream words(line.substr(sizeof(kMarker) - 1));
      std::string op;
      while (words >> op) covered[op].push_back(name);
    }
  }
  return covered;
}

TEST(CudaCoverage, EveryKernelRowHasACudaKernelTestOrIsPending) {
  ASSERT_TRUE(std::filesystem::is_directory("tests/cuda"))
      << "run from the source root (ctest does)";
  const auto covered = DeclaredCoverage();
  ASSERT_FALSE(covered.empty()) << "no '" << kMarker << "' line in tests/cuda/*_kernel_test.cc";
  std::set<std::string> rows, pending(kPending.begin(), kPending.end());
  for (int i = 0; i < kNumOps; ++i) {
    const Op op = static_cast<Op>(i);
    if (KindOf(op) == OpKind::VIEW) continue;
    rows.insert(OpName(op));
  }
  for (const auto& [name, files] : covered) {
    EXPECT_TRUE(rows.count(name)) << files[0] << " declares '" << name
                                  << "', which is not a kernel row of ops/ops.def";
    EXPECT_FALSE(pending.count(name)) << name << " is tested (" << files[0]
                                      << "): take it off the pending list in " << __FILE__;
  }
  for (const std::string& p : pending) {
    EXPECT_TRUE(rows.count(p)) << "pending '" << p << "' is not a kernel row of ops/ops.def";
  }
  int done = 0;
  for (const std::string& row : rows) {
    if (covered.count(row)) {
      ++done;
      continue;
    }
    EXPECT_TRUE(pending.count(row)) << row << " has no CUDA kernel test (tests/cuda/*_kernel_test.cc"
                                    << " with a '" << kMarker << "' line) and is not pending";
  }
  std::printf("\n*** CUDA kernels: %d of %zu kernel rows tested through the interpreter; "
              "%zu PENDING (no CUDA kernel yet):\n***  ",
              done, rows.size(), pending.size());
  for (const std::string& p : pending) std::printf(" %s", p.c_str());
  std::printf("\n\n");
}

}  // namespace
}  // namespace kiln
