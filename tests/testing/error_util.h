// Test helpers for bad-call tests: run a call that must throw kiln::Error and check its message.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "base/check.h"

namespace kiln {

// Runs fn, expects kiln::Error, and returns its message ("" and a test failure if nothing threw).
template <typename Fn>
std::string ErrorOf(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected kiln::Error";
  return "";
}

}  // namespace kiln

#define EXPECT_HAS(message, text) \
  EXPECT_NE((message).find(text), std::string::npos) << "message: " << (message)
