// A training step of a tiny GPT-2 and a tiny Llama on the interpreted CUDA backend (cuda-sim)
// against the CPU backend: the loss and every parameter's gradient within 1e-5 relative to their
// norm, the AdamW step bitwise the CPU's on the same gradients. Run with the default model path
// (every fused op) and with fusion off. KV-cache decoding on cuda-sim gives the full forward's logits
// bitwise, and greedy generation gives the CPU's tokens. The Bf16 cases run all of it under bf16
// mixed precision (AutocastGuard).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "autograd/api.h"
#include "autograd/grad_mode.h"
#include "base/rng.h"
#include "nn/fusion.h"
#include "nn/generate.h"
#include "nn/gpt.h"
#include "ops/profile.h"
#include "optim/adamw.h"
#include "tensor/device_memory.h"
#include "tensor/tensor.h"

namespace kiln::nn {
namespace {

// cuda-sim; KILN_TEST_DEVICE=cuda (or cuda:N) runs the same comparisons on a GPU (for the GPU
// check; an unusable device there is a test failure, not a skip).
Device TestDevice() {
  const char* e = std::getenv("KILN_TEST_DEVICE");
  if (e == nullptr || *e == '\0') return Device{Device::kCudaSim, 0};
  auto d = UsableDevice(e);
  KILN_CHECK(d.ok()) << "KILN_TEST_DEVICE: " << d.status().message();
  return *d;
}
const Device kSim = TestDevice();

GptConfig Config(bool gpt2) {
  return gpt2 ? TinyGpt2Config(/*vocab=*/61, /*n_embd=*/32, /*n_layer=*/2, /*n_head=*/4, 32)
              : TinyLlamaConfig(61, 32, 2, 4, 2, 32);
}

Tensor Ids(int64_t b, int64_t t, uint64_t seed, int64_t vocab) {
  std::vector<int32_t> v(b * t);
  RngStream rng(seed);
  for (auto& x : v) x = static_cast<int32_t>(rng.UniformInt(vocab));
  return FromVector(v, {b, t});
}

// ||a - b|| / ||b|| (0 when both are zero).
double RelNorm(const Tensor& a, const Tensor& b) {
  const auto x = a.ToVector<double>(), y = b.ToVector<double>();
  EXPECT_EQ(x.size(), y.size());
  double d = 0, n = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
    d += (x[i] - y[i]) * (x[i] - y[i]);
    n += y[i] * y[i];
  }
  return n == 0 ? std::sqrt(d) : std::sqrt(d / n);
}

bool SameBits(const Tensor& a, const Tensor& b) {
  const auto x = a.ToVector<float>(), y = b.ToVector<float>();
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

struct Case {
  bool gpt2;
  bool fused;         // the default model path (every fused op) or fusion off
  bool bf16 = false;  // mixed precision: the step under AutocastGuard(kBF16) on both backends
};

class TrainStepTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    saved_ = ActiveFusion();
    if (!GetParam().fused) SetFusion({false, false, false, false, false});
  }
  void TearDown() override { SetFusion(saved_); }
  Fusion saved_;
};

TEST_P(TrainStepTest, CudaSimMatchesCpu) {
  const GptConfig config = Config(GetParam().gpt2);
  GptModel cpu(config), sim(config);
  cpu.Init(7);
  sim.Init(7);
  sim.To(kSim);
  for (const auto& [name, p] : sim.NamedParameters()) ASSERT_EQ(p.device(), kSim) << name;
  const Tensor ids = Ids(2, 16, 1, config.vocab_size), targets = Ids(2, 16, 2, config.vocab_size);
  optim::AdamW opt_cpu({{cpu.Parameters()}}, {.lr = 1e-2, .weight_decay = 0.1});
  optim::AdamW opt_sim({{sim.Parameters()}}, {.lr = 1e-2, .weight_decay = 0.1});

  const bool bf16 = GetParam().bf16;
  Tensor loss_f32;
  if (bf16) loss_f32 = cpu.Loss({ids}, targets);
  Tensor loss_cpu, loss_sim;
  {
    AutocastGuard autocast(bf16 ? DType::kBF16 : DType::kF32);
    loss_cpu = cpu.Loss({ids}, targets);
  }
  Backward(loss_cpu);
  ops::SetProfiling(true);  // counts the kernels of the cuda-sim forward and backward
  ops::ResetProfile();
  {
    AutocastGuard autocast(bf16 ? DType::kBF16 : DType::kF32);
    loss_sim = sim.Loss({ids.To(kSim)}, targets.To(kSim));
  }
  ASSERT_EQ(loss_sim.device(), kSim);
  Backward(loss_sim);
  // Mixed precision really ran (operands cast to bf16) and stays within bf16 rounding of f32.
  EXPECT_EQ(ops::GetOpProfile(Op::kCast).calls > 0, bf16);
  if (bf16) {
    const double d = RelNorm(loss_cpu, loss_f32);
    EXPECT_GT(d, 0);
    EXPECT_LT(d, 1e-2) << loss_cpu.item() << " (bf16) vs " << loss_f32.item() << " (f32)";
  }
  // The path under test really ran: the fused ops with fusion on, the plain ones without.
  const bool fused = GetParam().fused;
  std::vector<Op> fused_ops = {Op::kLinear, Op::kLinearCrossEntropy,
                               Op::kLinearCrossEntropyBackward};
  if (GetParam().gpt2) {
    fused_ops.insert(fused_ops.end(), {Op::kBiasGrad, Op::kAddLayerNorm});
  } else {
    fused_ops.insert(fused_ops.end(), {Op::kAddRmsNorm, Op::kSwiglu, Op::kSwigluBackward});
  }
  for (Op op : fused_ops) EXPECT_EQ(ops::GetOpProfile(op).calls > 0, fused) << OpName(op);
  EXPECT_GT(ops::GetOpProfile(Op::kAttentionBackward).calls, 0);
  ops::ResetProfile();  // (a no-op once profiling is off) so the exit report is empty
  ops::SetProfiling(false);
  EXPECT_LE(RelNorm(loss_sim, loss_cpu), 1e-5)
      << loss_sim.item() << " vs " << loss_cpu.item();
  // Through the interpreter the loss is bitwise the CPU's (same chains and math library; bf16
  // operands widen exactly on both backends).
  if (kSim.type == Device::kCudaSim) {
    EXPECT_TRUE(SameBits(loss_sim.To(Device::CPU()), loss_cpu)) << "loss bits";
  }
  const auto pc = cpu.NamedParameters(), ps = sim.NamedParameters();
  ASSERT_EQ(pc.size(), ps.size());
  double worst = 0;
  std::string worst_name;
  for (size_t i = 0; i < pc.size(); ++i) {
    const Tensor gc = pc[i].second.grad(), gs = ps[i].second.grad();
    ASSERT_TRUE(gc.defined() && gs.defined()) << pc[i].first;
    EXPECT_EQ(gs.device(), kSim) << pc[i].first;
    const double d = RelNorm(gs, gc);
    // Under bf16 the backward casts each GEMM's incoming gradient to bf16: an f32 value that
    // differs by an ulp between the backends (f32 gradients differ by up to ~3e-7) can round to the
    // neighbouring bf16 value, a 2^-8 relative step of that element. So bf16 gradients agree to
    // bf16 precision, f32 ones to 1e-5.
    EXPECT_LE(d, bf16 ? 4e-3 : 1e-5) << "gradient of " << pc[i].first;
    if (d > worst) worst = d, worst_name = pc[i].first;
  }
  std::printf("loss %.9g (cpu) vs %.9g (cuda-sim), relative %.2g; largest gradient difference "
              "%.2g (%s)\n", loss_cpu.item(), loss_sim.item(), RelNorm(loss_sim, loss_cpu), worst,
              worst_name.c_str());
  // The step: AdamW on cuda-sim equals, bitwise, the CPU's AdamW fed the same (cuda-sim)
  // gradients. (Parameters of the CPU run and the cuda-sim run are not compared after the step:
  // Adam's first update is lr * g / (|g| + eps), which turns a gradient coordinate that is pure
  // rounding noise (|g| ~ 1e-11, e.g. GPT-2's key bias, whose true gradient is 0) into a step of
  // lr * g / eps: a 1e-5 difference of such gradients becomes an O(1) relative difference of
  // those parameters, on any two backends that round differently.)
  GptModel ref(config);
  ref.Init(7);
  const auto pr = ref.NamedParameters();
  for (size_t i = 0; i < pr.size(); ++i) pr[i].second.set_grad(ps[i].second.grad().To(Device::CPU()));
  optim::AdamW opt_ref({{ref.Parameters()}}, {.lr = 1e-2, .weight_decay = 0.1});
  opt_cpu.Step();
  opt_sim.Step();
  opt_ref.Step();
  for (size_t i = 0; i < pc.size(); ++i) {
    EXPECT_EQ(ps[i].second.device(), kSim) << pc[i].first;
    EXPECT_TRUE(SameBits(ps[i].second, pr[i].second)) << "parameter " << pc[i].first;
  }
}

// Decoding with the KV cache on cuda-sim: the logits of each decoded token are bitwise those of
// the full forward on cuda-sim; greedy generation picks the CPU's tokens.
TEST_P(TrainStepTest, DecodeAndGenerateOnCudaSim) {
  AutocastGuard autocast(GetParam().bf16 ? DType::kBF16 : DType::kF32);
  const GptConfig config = Config(GetParam().gpt2);
  GptModel cpu(config), sim(config);
  cpu.Init(3);
  sim.Init(3);
  sim.To(kSim);
  const std::vector<int32_t> prompt = {5, 17, 42, 8, 30, 1, 59, 12, 7};
  const int64_t n = static_cast<int64_t>(prompt.size());
  Tensor full = sim.Forward({FromVector(prompt, {1, n}, DType::kI32, kSim)});  // (1, n, V)
  KvCache cache = KvCache::Make(config, n, kSim);
  Tensor first = sim.ForwardCached(std::vector<int32_t>(prompt.begin(), prompt.begin() + 4), {4},
                                   {&cache});
  EXPECT_TRUE(SameBits(first, Reshape(Narrow(full, 1, 3, 1), {1, config.vocab_size})));
  for (int64_t i = 4; i < n; ++i) {
    Tensor step = sim.ForwardCached({prompt[i]}, {1}, {&cache});
    EXPECT_TRUE(SameBits(step, Reshape(Narrow(full, 1, i, 1), {1, config.vocab_size})))
        << "token " << i;
  }
  SamplingParams greedy{.temperature = 0, .max_new_tokens = 8};
  const std::vector<GenerateRequest> reqs = {{prompt, 1}, {{3, 4}, 2}};
  const auto rc = Generate(cpu, reqs, greedy), rs = Generate(sim, reqs, greedy);
  for (size_t i = 0; i < reqs.size(); ++i) EXPECT_EQ(rs[i].tokens, rc[i].tokens) << i;
}

INSTANTIATE_TEST_SUITE_P(Families, TrainStepTest,
                         ::testing::Values(Case{true, false}, Case{false, false}, Case{true, true},
                                           Case{false, true}, Case{true, true, true},
                                           Case{false, true, true}),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return std::string(info.param.gpt2 ? "Gpt2" : "Llama") +
                                  (info.param.fused ? "Default" : "Unfused") +
                                  (info.param.bf16 ? "Bf16" : "");
                         });

}  // namespace
}  // namespace kiln::nn
