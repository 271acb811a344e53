// optim/ end to end: state export / import resumes with the same bits, LoadState's errors,
// gradient accumulation over micro-batches, and a tiny regression that must converge.
#include <gtest/gtest.h>

#include <cmath>

#include "autograd/api.h"
#include "optim/adamw.h"
#include "optim/clip.h"
#include "optim/schedule.h"
#include "optim/sgd.h"

namespace kiln::optim {
namespace {

Tensor Copy(const Tensor& t) {
  Tensor c = Tensor::Empty(t.shape(), t.dtype());
  c.CopyFrom_(t);
  return c;
}

std::vector<Tensor> MakeParams() { return {Randn({5, 3}, 21), Randn({3}, 22)}; }

std::vector<ParamGroup> Groups(const std::vector<Tensor>& p) {
  return {ParamGroup{{p[0]}, {"w"}}, ParamGroup{{p[1]}, {"b"}, 2.0, 0.0}};
}

void FeedAndStep(Optimizer& opt, const std::vector<Tensor>& params, int step) {
  for (size_t i = 0; i < params.size(); ++i) {
    // Param "b" has no grad on step 3, so the per-param steps differ.
    params[i].set_grad(i == 1 && step == 3 ? Tensor()
                                           : Randn(params[i].shape(), 300 + 10 * step + i));
  }
  opt.SetLr(1e-2 / (1 + step));
  opt.Step();
}

template <typename Opt, typename Config>
void CheckResumeIsExact(const Config& config) {
  std::vector<Tensor> pa = MakeParams();
  Opt a(Groups(pa), config);
  for (int step = 0; step < 5; ++step) FeedAndStep(a, pa, step);
  // Checkpoint: params and optimizer state; the JSON goes through text as in a file.
  std::vector<Tensor> pb = {Copy(pa[0]), Copy(pa[1])};
  std::map<std::string, Tensor> tensors;
  for (const auto& [name, t] : a.StateTensors()) tensors[name] = Copy(t);
  const Json json = Json::parse(a.StateJson().dump());
  Opt b(Groups(pb), config);
  ASSERT_TRUE(b.LoadState(tensors, json).ok());
  EXPECT_EQ(b.step_count(), 5);
  EXPECT_EQ(b.lr(), a.lr());
  for (int step = 5; step < 10; ++step) {
    FeedAndStep(a, pa, step);
    FeedAndStep(b, pb, step);
  }
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_EQ(pa[i].ToVector<float>(), pb[i].ToVector<float>()) << "param " << i;
  }
  const std::map<std::string, Tensor> sa = a.StateTensors(), sb = b.StateTensors();
  ASSERT_EQ(sa.size(), sb.size());
  for (const std::pair<const std::string, Tensor>& kv : sa) {
    const Tensor& t = kv.second;
    EXPECT_EQ(t.ToVector<float>(), sb.at(kv.first).ToVector<float>()) << kv.first;
  }
  EXPECT_EQ(a.StateJson(), b.StateJson());
}

TEST(StateTest, AdamWResumeIsBitExact) {
  CheckResumeIsExact<AdamW>(AdamWConfig{.lr = 1e-2, .weight_decay = 0.1});
}

TEST(StateTest, SgdMomentumResumeIsBitExact) {
  CheckResumeIsExact<Sgd>(SgdConfig{.lr = 1e-2, .momentum = 0.9, .nesterov = true});
}

TEST(StateTest, ExportedNamesAndJson) {
  std::vector<Tensor> p = MakeParams();
  AdamW opt(Groups(p), {});
  for (int step = 0; step < 4; ++step) FeedAndStep(opt, p, step);
  std::vector<std::string> names;
  for (const auto& [name, t] : opt.StateTensors()) names.push_back(name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"b.exp_avg", "b.exp_avg_sq", "w.exp_avg", "w.exp_avg_sq"}));
  const Json j = opt.StateJson();
  EXPECT_EQ(j["optimizer"], "adamw");
  EXPECT_EQ(j["step"], 4);
  EXPECT_EQ(j["params"]["w"]["step"], 4);
  EXPECT_EQ(j["params"]["b"]["step"], 3);
}

TEST(StateTest, LoadStateErrorsChangeNothing) {
  std::vector<Tensor> p = MakeParams();
  AdamW src(Groups(p), {});
  for (int step = 0; step < 2; ++step) FeedAndStep(src, p, step);
  const auto tensors = src.StateTensors();
  const Json json = src.StateJson();
  AdamW dst(Groups(MakeParams()), {});
  auto error = [&](const std::map<std::string, Tensor>& t, const Json& j) {
    absl::Status s = dst.LoadState(t, j);
    EXPECT_FALSE(s.ok());
    return std::string(s.message());
  };
  Json other = json;
  other["optimizer"] = "sgd";
  EXPECT_NE(error(tensors, other).find("field 'optimizer': expected \"adamw\", got \"sgd\""),
            std::string::npos);
  Json unknown = json;
  unknown["params"]["zz"] = Json{{"step", 1}};
  EXPECT_NE(error(tensors, unknown).find("params.zz: no param of that name"), std::string::npos);
  Json bad_step = json;
  bad_step["params"]["w"]["step"] = 0;
  EXPECT_NE(error(tensors, bad_step).find("params.w.step: expected >= 1, got 0"),
            std::string::npos);
  Json no_step = json;
  no_step.erase("step");
  EXPECT_NE(error(tensors, no_step).find("missing field 'step'"), std::string::npos);
  auto missing = tensors;
  missing.erase("w.exp_avg");
  EXPECT_NE(error(missing, json).find("missing tensor 'w.exp_avg'"), std::string::npos);
  auto wrong_shape = tensors;
  wrong_shape["b.exp_avg"] = Zeros({4});
  EXPECT_NE(
      error(wrong_shape, json).find("tensor 'b.exp_avg' is (4,) f32, expected the param's (3,)"),
      std::string::npos);
  auto extra = tensors;
  extra["w.momentum_buffer"] = Zeros({5, 3});
  EXPECT_NE(error(extra, json).find("unexpected tensor 'w.momentum_buffer'"), std::string::npos);
  EXPECT_EQ(dst.step_count(), 0);
  EXPECT_TRUE(dst.StateTensors().empty());
}

// ---- Gradient accumulation ---------------------------------------------------------------------

// Mean squared error of a linear model x (N, 3) @ w (3, 1) + b (1) against y (N, 1).
Tensor Mse(const Tensor& x, const Tensor& y, const Tensor& w, const Tensor& b) {
  Tensor d = Sub(Add(Matmul(x, w), b), y);
  return Mean(Mul(d, d));
}

std::vector<float> AccumulatedGrads(const Tensor& x, const Tensor& y) {
  Tensor w = Randn({3, 1}, 41), b = Zeros({1});
  w.set_requires_grad(true);
  b.set_requires_grad(true);
  // Each micro-batch's mean loss is divided by the number of micro-batches, so the accumulated
  // leaf grads equal the full batch's mean-loss grads.
  for (int64_t i = 0; i < 2; ++i) {
    Backward(MulScalar(Mse(Narrow(x, 0, 4 * i, 4), Narrow(y, 0, 4 * i, 4), w, b), 0.5));
  }
  std::vector<float> out = w.grad().ToVector<float>();
  out.push_back(b.grad().ToVector<float>()[0]);
  return out;
}

TEST(GradAccumulationTest, TwoMicroBatchesEqualOneBatch) {
  Tensor x = Randn({8, 3}, 42), y = Randn({8, 1}, 43);
  Tensor w = Randn({3, 1}, 41), b = Zeros({1});
  w.set_requires_grad(true);
  b.set_requires_grad(true);
  Backward(Mse(x, y, w, b));
  std::vector<float> full = w.grad().ToVector<float>();
  full.push_back(b.grad().ToVector<float>()[0]);
  const std::vector<float> acc = AccumulatedGrads(x, y);
  ASSERT_EQ(acc.size(), full.size());
  for (size_t i = 0; i < acc.size(); ++i) EXPECT_NEAR(acc[i], full[i], 1e-5) << i;
  EXPECT_EQ(acc, AccumulatedGrads(x, y));  // fixed order: the same bits run to run
}

// ---- A tiny regression -------------------------------------------------------------------------

TEST(RegressionTest, LinearFitOfThreeXPlusOneConverges) {
  // y = 3x + 1 on 16 points in [-1, 1]; a Linear (1 -> 1) from Matmul + Add, trained with AdamW,
  // warmup + cosine and clipping, as a trainer would.
  std::vector<float> xs, ys;
  for (int i = 0; i < 16; ++i) {
    xs.push_back(-1.0f + 2.0f * i / 15.0f);
    ys.push_back(3.0f * xs.back() + 1.0f);
  }
  Tensor x = FromVector<float>(xs, {16, 1}), y = FromVector<float>(ys, {16, 1});
  Tensor w = Zeros({1, 1}), b = Zeros({1});
  w.set_requires_grad(true);
  b.set_requires_grad(true);
  AdamW opt(SplitDecayGroups({{"w", w}, {"b", b}}), {.lr = 0.1, .weight_decay = 0.0});
  LrSchedule schedule(
      {.base_lr = 0.1, .decay = Decay::kCosine, .total_steps = 400, .warmup_ratio = 0.1});
  double loss = 0;
  for (int64_t step = 0; step < 400; ++step) {
    opt.ZeroGrad();
    Tensor l = Mean(Mul(Sub(Add(Matmul(x, w), b), y), Sub(Add(Matmul(x, w), b), y)));
    loss = l.item();
    Backward(l);
    ClipGradNorm(opt.Params(), 5.0);
    opt.SetLr(schedule.LrAt(step));
    opt.Step();
  }
  EXPECT_LT(loss, 1e-4);
  EXPECT_NEAR(w.item(), 3.0, 1e-2);
  EXPECT_NEAR(b.item(), 1.0, 1e-2);
}

}  // namespace
}  // namespace kiln::optim
