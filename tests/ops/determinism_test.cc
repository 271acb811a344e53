// Determinism: every op case's forward output and input gradients (f32) are bitwise identical for
// OpenMP thread counts 1, 2, 3 and every instruction-set path this machine has
// (generic / avx2 / avx512).
#include <gtest/gtest.h>

#include <cstring>

#include "base/thread_pool.h"
#include "cpu/isa.h"
#include "tests/ops/op_case.h"

namespace kiln::testing {
namespace {

// Raw bytes of the forward output and every input gradient.
std::vector<std::string> RunOnce(const OpCase& c) {
  std::vector<Tensor> inputs;
  for (const auto& x : c.make_inputs()) {
    Tensor t = x.defined() && IsFloating(x.dtype()) ? ops::Cast(x, DType::kF32) : x;
    if (c.gradcheck && t.defined() && IsFloating(t.dtype())) t.set_requires_grad(true);
    inputs.push_back(t);
  }
  Tensor out = c.run(inputs);
  std::vector<std::string> bytes;
  auto add = [&](const Tensor& t) {
    Tensor ct = ops::Contiguous(t);
    bytes.emplace_back(static_cast<const char*>(ct.raw_data()), ct.numel() * DTypeSize(ct.dtype()));
  };
  add(out);
  if (c.gradcheck && out.requires_grad()) {
    Tensor w = Randn(out.shape(), 99, 0, out.dtype());
    Backward(Sum(Mul(out, w)));
    for (const auto& x : inputs) {
      if (x.defined() && x.requires_grad() && x.grad().defined()) add(x.grad());
    }
  }
  return bytes;
}

class Determinism : public ::testing::TestWithParam<size_t> {};

TEST_P(Determinism, SameBitsAcrossThreadsAndIsas) {
  const OpCase& c = OpCaseRegistry()[GetParam()];
  SCOPED_TRACE(c.name);
  int saved_threads = kiln::NumThreads();
  cpu::Isa saved_isa = cpu::ActiveIsa();
  std::vector<std::string> first;
  std::string first_config;
  for (cpu::Isa isa : cpu::AvailableIsas()) {
    for (int threads : {1, 2, 3}) {
      cpu::SetIsa(isa);
      kiln::SetNumThreads(threads);
      std::vector<std::string> got = RunOnce(c);
      std::string config = std::string(cpu::IsaName(isa)) + "/" + std::to_string(threads) + "t";
      if (first.empty()) {
        first = got;
        first_config = config;
        continue;
      }
      ASSERT_EQ(got.size(), first.size()) << config;
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_TRUE(got[i] == first[i])
            << c.name << ": tensor " << i << " (0 = output, then "
            << "input grads) differs between " << first_config << " and " << config;
      }
    }
  }
  cpu::SetIsa(saved_isa);
  kiln::SetNumThreads(saved_threads);
}

INSTANTIATE_TEST_SUITE_P(AllOps, Determinism, ::testing::Range<size_t>(0, OpCaseRegistry().size()),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           std::string n = OpCaseRegistry()[info.param].name;
                           for (auto& ch : n) {
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           }
                           return n + "_" + std::to_string(info.param);
                         });

}  // namespace
}  // namespace kiln::testing
