// optim/: SGD (momentum, dampening, nesterov, weight decay) and AdamW against hand-written double
// references, AdamW determinism across runs and thread counts, parameter-group splitting, LR
// schedules at their key steps, gradient clipping, config errors.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "autograd/api.h"
#include "base/thread_pool.h"
#include "optim/adamw.h"
#include "optim/clip.h"
#include "optim/schedule.h"
#include "optim/sgd.h"
#include "tests/testing/error_util.h"

namespace kiln::optim {
namespace {

// The gradient fed at `step` to param `i`: fixed pseudo-random values, so optimizer and reference
// see the same numbers.
Tensor GradAt(const Shape& shape, int step, int i) { return Randn(shape, 1000 + 17 * step + i); }

std::vector<double> ToDouble(const Tensor& t) { return t.ToVector<double>(); }

void ExpectNear(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_NEAR(got[i], want[i], tol * (1 + std::fabs(want[i]))) << "element " << i;
  }
}

// ---- SGD ---------------------------------------------------------------------------------------

void CheckSgd(const SgdConfig& c) {
  SCOPED_TRACE(::testing::Message() << "momentum " << c.momentum << " dampening " << c.dampening
                                    << " wd " << c.weight_decay << " nesterov " << c.nesterov);
  const Shape shape = {3, 5};
  Tensor p = Randn(shape, 7);
  std::vector<double> ref = ToDouble(p), buf;
  Sgd opt({ParamGroup{{p}}}, c);
  for (int step = 0; step < 4; ++step) {
    Tensor g = GradAt(shape, step, 0);
    p.set_grad(g);
    opt.Step();
    std::vector<double> gd = ToDouble(g);
    for (size_t i = 0; i < gd.size(); ++i) gd[i] += c.weight_decay * ref[i];
    if (c.momentum != 0) {
      if (step == 0) {
        buf = gd;
      } else {
        for (size_t i = 0; i < gd.size(); ++i) {
          buf[i] = c.momentum * buf[i] + (1 - c.dampening) * gd[i];
        }
      }
      for (size_t i = 0; i < gd.size(); ++i) {
        gd[i] = c.nesterov ? gd[i] + c.momentum * buf[i] : buf[i];
      }
    }
    for (size_t i = 0; i < gd.size(); ++i) ref[i] -= c.lr * gd[i];
    ExpectNear(ToDouble(p), ref, 1e-5);
  }
  EXPECT_EQ(opt.step_count(), 4);
}

TEST(SgdTest, MatchesReference) {
  CheckSgd({.lr = 0.1});
  CheckSgd({.lr = 0.1, .weight_decay = 0.05});
  CheckSgd({.lr = 0.05, .momentum = 0.9});
  CheckSgd({.lr = 0.05, .momentum = 0.9, .dampening = 0.3, .weight_decay = 0.01});
  CheckSgd({.lr = 0.05, .momentum = 0.8, .weight_decay = 0.01, .nesterov = true});
}

TEST(SgdTest, ParamsWithoutGradAreSkipped) {
  Tensor a = Randn({4}, 1), b = Randn({4}, 2);
  const std::vector<float> b0 = b.ToVector<float>();
  Sgd opt({ParamGroup{{a, b}}}, {.lr = 0.1, .momentum = 0.9});
  a.set_grad(Ones({4}));
  opt.Step();
  EXPECT_EQ(b.ToVector<float>(), b0);
  EXPECT_EQ(opt.StateTensors().size(), 1u);  // only "0.momentum_buffer"
  EXPECT_EQ(opt.StateTensors().count("0.momentum_buffer"), 1u);
  opt.ZeroGrad();
  EXPECT_FALSE(a.grad().defined());
}

// ---- AdamW -------------------------------------------------------------------------------------

struct RefAdam {
  std::vector<double> p, m, v;
  int64_t step = 0;
  void Update(const std::vector<double>& g, double lr, double b1, double b2, double eps,
              double wd) {
    ++step;
    if (m.empty()) m.assign(p.size(), 0.0), v.assign(p.size(), 0.0);
    const double bc1 = 1 - std::pow(b1, static_cast<double>(step));
    const double bc2 = 1 - std::pow(b2, static_cast<double>(step));
    for (size_t i = 0; i < p.size(); ++i) {
      p[i] -= lr * wd * p[i];
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      p[i] -= lr * (m[i] / bc1) / (std::sqrt(v[i] / bc2) + eps);
    }
  }
};

TEST(AdamWTest, MatchesReferenceWithGroupsAndSkippedSteps) {
  // Group 0: decay (config's wd), lr scale 1. Group 1: no decay, lr scale 0.5.
  Tensor w = Randn({4, 6}, 11), bias = Randn({6}, 12);
  AdamWConfig c{.lr = 0.01, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1};
  AdamW opt({ParamGroup{{w}}, ParamGroup{{bias}, {}, 0.5, 0.0}}, c);
  RefAdam rw{ToDouble(w)}, rb{ToDouble(bias)};
  for (int step = 0; step < 6; ++step) {
    Tensor gw = GradAt(w.shape(), step, 0), gb = GradAt(bias.shape(), step, 1);
    w.set_grad(gw);
    // The bias has no grad at step 2: it is skipped and its own step count does not advance.
    bias.set_grad(step == 2 ? Tensor() : gb);
    opt.SetLr(0.01 * (step + 1) / 6.0);
    opt.Step();
    rw.Update(ToDouble(gw), opt.lr(), c.beta1, c.beta2, c.eps, 0.1);
    if (step != 2) rb.Update(ToDouble(gb), opt.lr() * 0.5, c.beta1, c.beta2, c.eps, 0.0);
    ExpectNear(ToDouble(w), rw.p, 2e-6);
    ExpectNear(ToDouble(bias), rb.p, 2e-6);
  }
  const Json state = opt.StateJson();
  EXPECT_EQ(state["step"], 6);
  EXPECT_EQ(state["params"]["0"]["step"], 6);
  EXPECT_EQ(state["params"]["1"]["step"], 5);
  ExpectNear(ToDouble(opt.StateTensors().at("0.exp_avg")), rw.m, 1e-5);
  ExpectNear(ToDouble(opt.StateTensors().at("1.exp_avg_sq")), rb.v, 1e-5);
}

TEST(AdamWTest, F64MatchesReferenceTightly) {
  Tensor p = Randn({7}, 3, 0, DType::kF64);
  AdamWConfig c{.lr = 0.1, .beta1 = 0.8, .beta2 = 0.9, .eps = 1e-6, .weight_decay = 0.2};
  AdamW opt({ParamGroup{{p}}}, c);
  RefAdam r{ToDouble(p)};
  for (int step = 0; step < 5; ++step) {
    Tensor g = Randn({7}, 50 + step, 0, DType::kF64);
    p.set_grad(g);
    opt.Step();
    r.Update(ToDouble(g), c.lr, c.beta1, c.beta2, c.eps, c.weight_decay);
  }
  ExpectNear(ToDouble(p), r.p, 1e-13);
}

// Runs 4 AdamW steps on a param big enough for the kernel to use threads; returns its bits.
std::vector<float> AdamWRun(int threads) {
  const int saved = kiln::NumThreads();
  kiln::SetNumThreads(threads);
  Tensor p = Randn({40000}, 5), q = Randn({3, 3}, 6);
  AdamW opt({ParamGroup{{p, q}}}, {.lr = 3e-3, .weight_decay = 0.1});
  for (int step = 0; step < 4; ++step) {
    p.set_grad(GradAt(p.shape(), step, 0));
    q.set_grad(GradAt(q.shape(), step, 1));
    opt.Step();
  }
  kiln::SetNumThreads(saved);
  std::vector<float> out = p.ToVector<float>();
  for (float x : q.ToVector<float>()) out.push_back(x);
  return out;
}

TEST(AdamWTest, BitwiseDeterministicAcrossRunsAndThreads) {
  const std::vector<float> a = AdamWRun(1);
  EXPECT_EQ(a, AdamWRun(1));
  EXPECT_EQ(a, AdamWRun(2));
}

TEST(OptimizerTest, BadConfigsNameTheField) {
  Tensor p = Randn({2}, 1);
  auto adamw = [&](AdamWConfig c) { return ErrorOf([&] { AdamW({ParamGroup{{p}}}, c); }); };
  EXPECT_NE(adamw({.lr = -1}).find("lr >= 0, got -1"), std::string::npos);
  EXPECT_NE(adamw({.beta1 = 1.0}).find("beta1 in [0, 1), got 1"), std::string::npos);
  EXPECT_NE(adamw({.beta2 = -0.5}).find("beta2 in [0, 1), got -0.5"), std::string::npos);
  EXPECT_NE(adamw({.eps = -1}).find("eps >= 0"), std::string::npos);
  EXPECT_NE(adamw({.weight_decay = -0.1}).find("weight_decay >= 0, got -0.1"), std::string::npos);
  auto sgd = [&](SgdConfig c) { return ErrorOf([&] { Sgd({ParamGroup{{p}}}, c); }); };
  EXPECT_NE(sgd({.lr = -0.5}).find("lr >= 0, got -0.5"), std::string::npos);
  EXPECT_NE(sgd({.momentum = -1}).find("momentum >= 0"), std::string::npos);
  EXPECT_NE(sgd({.dampening = 2}).find("dampening in [0, 1], got 2"), std::string::npos);
  EXPECT_NE(sgd({.nesterov = true}).find("nesterov needs momentum > 0"), std::string::npos);
  Sgd ok({ParamGroup{{p}}}, {});
  EXPECT_NE(ErrorOf([&] { ok.SetLr(-2); }).find("lr >= 0, got -2"), std::string::npos);
  EXPECT_NE(ErrorOf([&] {
              Sgd({ParamGroup{{p, p}}}, {});
            }).find("appears twice"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] {
              Sgd({ParamGroup{{p}, {"a", "b"}}}, {});
            }).find("1 params but 2 names"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] {
              Sgd({ParamGroup{{p}, {}, -1.0}}, {});
            }).find("lr_scale >= 0, got -1"),
            std::string::npos);
  Tensor q = Randn({3}, 2);
  q.set_grad(Ones({2}));
  Sgd bad({ParamGroup{{q}}}, {});
  EXPECT_NE(ErrorOf([&] { bad.Step(); }).find("grad of param '0' has shape (2,)"),
            std::string::npos);
}

// ---- Parameter groups --------------------------------------------------------------------------

TEST(ParamGroupTest, SplitDecayGroups) {
  std::vector<std::pair<std::string, Tensor>> named = {{"wte.weight", Randn({10, 4}, 1)},
                                                       {"h.0.ln.weight", Ones({4})},
                                                       {"h.0.attn.weight", Randn({4, 4}, 2)},
                                                       {"h.0.attn.bias", Zeros({4})},
                                                       {"lm_head.weight", Randn({10, 4}, 3)}};
  std::vector<ParamGroup> g = SplitDecayGroups(named);
  ASSERT_EQ(g.size(), 2u);
  EXPECT_EQ(g[0].names,
            (std::vector<std::string>{"wte.weight", "h.0.attn.weight", "lm_head.weight"}));
  EXPECT_FALSE(g[0].weight_decay.has_value());
  EXPECT_EQ(g[1].names, (std::vector<std::string>{"h.0.ln.weight", "h.0.attn.bias"}));
  EXPECT_EQ(*g[1].weight_decay, 0.0);
  EXPECT_TRUE(g[1].params[0].SameAs(named[1].second));

  g = SplitDecayGroups(named, {.decay_embeddings = false});
  EXPECT_EQ(g[0].names, (std::vector<std::string>{"h.0.attn.weight", "lm_head.weight"}));
  EXPECT_EQ(g[1].names, (std::vector<std::string>{"wte.weight", "h.0.ln.weight", "h.0.attn.bias"}));

  // The optimizer resolves an unset weight decay to its config's.
  AdamW opt(SplitDecayGroups(named), {.weight_decay = 0.1});
  EXPECT_EQ(*opt.groups()[0].weight_decay, 0.1);
  EXPECT_EQ(*opt.groups()[1].weight_decay, 0.0);
  EXPECT_EQ(opt.Params().size(), 5u);
}

// ---- Schedules ---------------------------------------------------------------------------------

TEST(ScheduleTest, ConstantAndConstantWithWarmup) {
  LrSchedule flat({.base_lr = 0.003});
  EXPECT_EQ(flat.LrAt(0), 0.003);
  EXPECT_EQ(flat.LrAt(1000000), 0.003);
  LrSchedule warm({.base_lr = 0.003, .warmup_steps = 4});
  EXPECT_EQ(warm.LrAt(0), 0.0);
  EXPECT_EQ(warm.LrAt(2), 0.003 * 0.5);
  EXPECT_EQ(warm.LrAt(4), 0.003);
  EXPECT_EQ(warm.LrAt(99), 0.003);
}

TEST(ScheduleTest, StudySettingWarmupRatioCosine) {
  // warmup_ratio 0.1 of 100 steps -> 10 warmup steps (ceil, as HF), then cosine to 0.
  const double base = 1e-5;
  LrSchedule s({.base_lr = base, .decay = Decay::kCosine, .total_steps = 100, .warmup_ratio = 0.1});
  EXPECT_EQ(s.warmup_steps(), 10);
  EXPECT_EQ(s.LrAt(0), 0.0);
  EXPECT_EQ(s.LrAt(5), base * 0.5);
  EXPECT_EQ(s.LrAt(9), base * (9.0 / 10.0));
  EXPECT_EQ(s.LrAt(10), base);               // end of warmup: cos(0) = 1 exactly
  EXPECT_DOUBLE_EQ(s.LrAt(55), base * 0.5);  // middle: cos(pi / 2) ~ 6e-17, not 0
  EXPECT_DOUBLE_EQ(s.LrAt(40), base * 0.5 * (1 + std::cos(M_PI / 3)));
  EXPECT_EQ(s.LrAt(100), 0.0);  // end: cos(pi) = -1 exactly
  EXPECT_EQ(s.LrAt(250), 0.0);  // stays at the floor
  for (int64_t t = 10; t < 100; ++t) EXPECT_LE(s.LrAt(t + 1), s.LrAt(t)) << t;
  // A ratio that does not divide: ceil(0.1 * 95) = 10.
  EXPECT_EQ(
      LrSchedule({.decay = Decay::kCosine, .total_steps = 95, .warmup_ratio = 0.1}).warmup_steps(),
      10);
}

TEST(ScheduleTest, FloorsAndLinearDecay) {
  const double base = 2e-4;
  LrSchedule ratio({.base_lr = base,
                    .decay = Decay::kCosine,
                    .total_steps = 50,
                    .warmup_steps = 10,
                    .min_ratio = 0.1});
  EXPECT_EQ(ratio.floor_lr(), base * 0.1);
  EXPECT_EQ(ratio.LrAt(10), base);
  EXPECT_DOUBLE_EQ(ratio.LrAt(30), 0.5 * base + 0.5 * base * 0.1);
  EXPECT_EQ(ratio.LrAt(50), base * 0.1);
  EXPECT_EQ(ratio.LrAt(60), base * 0.1);
  LrSchedule lin({.base_lr = base,
                  .decay = Decay::kLinear,
                  .total_steps = 110,
                  .warmup_steps = 10,
                  .min_lr = 1e-5});
  EXPECT_EQ(lin.LrAt(0), 0.0);
  EXPECT_EQ(lin.LrAt(10), base);
  EXPECT_EQ(lin.LrAt(60), base * 0.5 + 1e-5 * 0.5);
  EXPECT_EQ(lin.LrAt(110), 1e-5);
  EXPECT_EQ(lin.LrAt(111), 1e-5);
  LrSchedule nowarm({.base_lr = base, .decay = Decay::kLinear, .total_steps = 4});
  EXPECT_EQ(nowarm.LrAt(0), base);
  EXPECT_EQ(nowarm.LrAt(1), base * 0.75);
}

TEST(ScheduleTest, BadConfigsNameTheField) {
  auto err = [](ScheduleConfig c) { return ErrorOf([&] { LrSchedule s(c); }); };
  EXPECT_NE(err({.base_lr = -1}).find("base_lr >= 0, got -1"), std::string::npos);
  EXPECT_NE(err({.decay = Decay::kCosine}).find("total_steps >= 1, got 0"), std::string::npos);
  EXPECT_NE(err({.total_steps = 10, .warmup_ratio = 1.5}).find("warmup_ratio in [0, 1], got 1.5"),
            std::string::npos);
  EXPECT_NE(err({.decay = Decay::kLinear, .total_steps = 5, .warmup_steps = 6})
                .find("longer than total_steps 5"),
            std::string::npos);
  EXPECT_NE(err({.base_lr = 1e-3, .min_lr = 1}).find("min_lr in [0, base_lr"), std::string::npos);
  EXPECT_NE(err({.min_ratio = 2}).find("min_ratio in [0, 1], got 2"), std::string::npos);
  EXPECT_NE(ErrorOf([] { LrSchedule({}).LrAt(-1); }).find("step >= 0, got -1"), std::string::npos);
}

// ---- Clipping ----------------------------------------------------------------------------------

TEST(ClipTest, NormScalingAndNoOp) {
  Tensor a = Zeros({2}), b = Zeros({1, 1}), c = Zeros({3});  // c has no grad
  a.set_grad(FromVector<float>({3, 4}, {2}));
  b.set_grad(FromVector<float>({12}, {1, 1}));
  const std::vector<Tensor> params = {a, b, c};
  EXPECT_EQ(GradNorm(params), 13.0);
  Tensor ga = a.grad();
  EXPECT_EQ(ClipGradNorm(params, 13.0), 13.0);  // coef = 13 / (13 + 1e-6) < 1: clipped
  EXPECT_FALSE(a.grad().SameAs(ga));
  const double coef = 13.0 / (13.0 + 1e-6);
  EXPECT_FLOAT_EQ(a.grad().ToVector<float>()[1], static_cast<float>(4 * coef));
  ga = a.grad();
  EXPECT_NEAR(ClipGradNorm(params, 20.0), 13.0, 1e-5);  // below max: untouched
  EXPECT_TRUE(a.grad().SameAs(ga));
  EXPECT_NEAR(ClipGradNorm(params, 1.3), 13.0, 1e-5);
  EXPECT_NEAR(GradNorm(params), 1.3, 1e-6);
  EXPECT_NEAR(a.grad().ToVector<float>()[0], 0.3, 1e-6);
  EXPECT_NEAR(b.grad().ToVector<float>()[0], 1.2, 1e-6);
  EXPECT_EQ(GradNorm({c}), 0.0);
  EXPECT_NE(ErrorOf([&] { ClipGradNorm(params, 0); }).find("max_norm > 0, got 0"),
            std::string::npos);
}

TEST(ClipTest, SharedGradStorageIsScaledOnce) {
  // Add's backward hands the same gradient tensor to both inputs.
  Tensor x = Zeros({2}), y = Zeros({2});
  x.set_requires_grad(true);
  y.set_requires_grad(true);
  Backward(Sum(MulScalar(Add(x, y), 3.0)));
  EXPECT_NEAR(ClipGradNorm({x, y}, 1.0), std::sqrt(36.0), 1e-6);
  EXPECT_NEAR(x.grad().ToVector<float>()[0], 0.5, 1e-6);
  EXPECT_NEAR(y.grad().ToVector<float>()[0], 0.5, 1e-6);
}

TEST(ClipTest, NonFiniteNormIsReturnedAndGradsUntouched) {
  Tensor a = Zeros({2});
  a.set_grad(FromVector<float>({1, NAN}, {2}));
  EXPECT_TRUE(std::isnan(ClipGradNorm({a}, 1.0)));
  EXPECT_EQ(a.grad().ToVector<float>()[0], 1.0f);
  a.set_grad(FromVector<float>({INFINITY, 1}, {2}));
  EXPECT_TRUE(std::isinf(ClipGradNorm({a}, 1.0)));
  EXPECT_EQ(a.grad().ToVector<float>()[1], 1.0f);
}

}  // namespace
}  // namespace kiln::optim
