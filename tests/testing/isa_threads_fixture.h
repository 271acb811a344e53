// A test fixture that restores the CPU instruction-set path and the thread count a test changed
// (tests that sweep kiln::cpu::SetIsa / kiln::SetNumThreads derive from it).
#pragma once

#include <gtest/gtest.h>

#include "base/thread_pool.h"
#include "cpu/isa.h"

namespace kiln::testing {

class IsaThreadsRestoringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    isa_ = cpu::ActiveIsa();
    threads_ = kiln::NumThreads();
  }
  void TearDown() override {
    cpu::SetIsa(isa_);
    kiln::SetNumThreads(threads_);
  }

 private:
  cpu::Isa isa_{};
  int threads_ = 0;
};

}  // namespace kiln::testing
