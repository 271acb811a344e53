// `kiln demo`: the main job until the model issues land. Trains a 2-hidden-layer MLP on a
// synthetic 3-arm spiral with kiln's tensor stack (Matmul, GELU, fused cross-entropy, AdamW), shows
// a live progress line, and writes the loss curve (SVG) and a metrics JSONL. Same seed and flags:
// the same bits, whatever the thread count (the final line prints a checksum of the weights).
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_format.h"
#include "autograd/api.h"
#include "base/json.h"
#include "base/progress.h"
#include "base/rng.h"
#include "base/thread_pool.h"
#include "cpu/isa.h"
#include "report/plot.h"
#include "tools/run_util.h"

namespace kiln::tools {
namespace {

// Spiral data: class c, point i -> radius r, angle = c * 2pi/3 + 4r + noise (Philox noise).
void MakeSpiral(int64_t n_per_class, uint64_t seed, Tensor* x, Tensor* y) {
  const int64_t classes = 3, n = n_per_class * classes;
  std::vector<float> xs(static_cast<size_t>(n * 2));
  std::vector<int64_t> ys(static_cast<size_t>(n));
  for (int64_t c = 0; c < classes; ++c) {
    for (int64_t i = 0; i < n_per_class; ++i) {
      int64_t k = c * n_per_class + i;
      double r = static_cast<double>(i) / static_cast<double>(n_per_class);
      double noise = 0.2 * NormalFromBlock(Philox(seed, static_cast<uint64_t>(k)));
      double t = static_cast<double>(c) * 2.0943951023931953 + 4.0 * r + noise;
      xs[2 * k] = static_cast<float>(r * std::sin(t));
      xs[2 * k + 1] = static_cast<float>(r * std::cos(t));
      ys[k] = c;
    }
  }
  *x = FromVector<float>(xs, {n, 2});
  *y = FromVector<int64_t>(ys, {n});
}

struct Param {
  Tensor value, m, v;
};

Param MakeParam(const Shape& shape, double scale, uint64_t seed) {
  Param p;
  p.value = scale == 0 ? Zeros(shape) : ops::MulScalar(Randn(shape, seed), scale);
  p.value.set_requires_grad(true);
  p.m = Zeros(shape);
  p.v = Zeros(shape);
  return p;
}

uint64_t Checksum(const std::vector<Param>& params) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the raw bytes
  for (const auto& p : params) {
    const unsigned char* b = static_cast<const unsigned char*>(p.value.raw_data());
    for (int64_t i = 0; i < p.value.numel() * 4; ++i) h = (h ^ b[i]) * 1099511628211ull;
  }
  return h;
}

}  // namespace

int RunDemo(const std::vector<std::string>& args) {
  int64_t steps = 300, hidden = 64, points = 300, seed = 1, threads = 0;
  double lr = 1e-2;
  std::string out = "out/demo";
  FlagSet flags("demo",
                "Trains a small MLP on a synthetic spiral with kiln's own tensors, autograd and "
                "kernels; writes a loss curve and metrics.");
  flags.Int("steps", &steps, "training steps (full batch)");
  flags.Int("hidden", &hidden, "hidden width of both layers");
  flags.Int("points", &points, "points per class");
  flags.Double("lr", &lr, "AdamW learning rate");
  flags.Int("seed", &seed, "seed for data and initialization");
  flags.Int("threads", &threads, "threads (0 = all cores)");
  flags.String("out", &out, "output folder for loss.svg and metrics.jsonl");
  if (int rc = ParseOrExit(flags, args); rc >= 0) return rc;
  if (steps < 1 || hidden < 1 || points < 1 || lr <= 0) {
    return Fail(
        absl::InvalidArgumentError("--steps, --hidden and --points must be >= 1 and --lr > 0"));
  }
  if (threads > 0) kiln::SetNumThreads(static_cast<int>(threads));
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  if (ec) return Fail(absl::PermissionDeniedError("--out: cannot create folder '" + out + "'"));

  Tensor x, y;
  MakeSpiral(points, static_cast<uint64_t>(seed), &x, &y);
  uint64_t s = static_cast<uint64_t>(seed) * 1000;
  std::vector<Param> params = {
      MakeParam({2, hidden}, 1.0, s + 1), MakeParam({hidden}, 0, 0),
      MakeParam({hidden, hidden}, 1.0 / std::sqrt(static_cast<double>(hidden)), s + 2),
      MakeParam({hidden}, 0, 0),
      MakeParam({hidden, hidden}, 1.0 / std::sqrt(static_cast<double>(hidden)), s + 2),
      MakeParam({hidden}, 0, 0),
      MakeParam({hidden, 3}, 1.0 / std::sqrt(static_cast<double>(hidden)), s + 3),
      MakeParam({3}, 0, 0)};
  auto forward = [&](const Tensor& in) {
    Tensor h = Gelu(Add(Matmul(in, params[0].value), params[1].value));
    h = Gelu(Add(Matmul(h, params[2].value), params[3].value));
    return Add(Matmul(h, params[4].value), params[5].value);
  };

  std::printf(
      "kiln demo: MLP 2-%lld-%lld-3 on a %lld-point spiral, %lld steps, %d threads, %s path\n",
      static_cast<long long>(hidden), static_cast<long long>(hidden),
      static_cast<long long>(points * 3), static_cast<long long>(steps), kiln::NumThreads(),
      cpu::IsaName(cpu::ActiveIsa()));
  auto metrics = JsonlAppender::Open(out + "/metrics.jsonl", /*truncate=*/true);
  if (!metrics.ok()) return Fail(metrics.status());
  Progress progress("train", steps, "ex");
  std::vector<double> xs, losses, accs;
  ops::AdamWConfig cfg;
  cfg.lr = lr;
  cfg.weight_decay = 1e-4;
  double loss_v = 0, acc = 0;
  for (int64_t step = 1; step <= steps; ++step) {
    Tensor logits = forward(x);
    Tensor loss = Mean(CrossEntropy(logits, y));
    Backward(loss);
    for (auto& p : params) {
      ops::AdamW(p.value, p.value.grad(), p.m, p.v, step, cfg);
      p.value.set_grad(Tensor());
    }
    loss_v = loss.item();
    {
      NoGradGuard no_grad;
      std::vector<int64_t> pred = ops::Argmax(logits, 1).ToVector<int64_t>();
      std::vector<int64_t> truth = y.ToVector<int64_t>();
      int64_t correct = 0;
      for (size_t i = 0; i < pred.size(); ++i) correct += pred[i] == truth[i];
      acc = static_cast<double>(correct) / static_cast<double>(pred.size());
    }
    xs.push_back(static_cast<double>(step));
    losses.push_back(loss_v);
    accs.push_back(acc);
    if (auto st = metrics->Append(Json{{"step", step}, {"loss", loss_v}, {"accuracy", acc}});
        !st.ok()) {
      return Fail(st);
    }
    progress.Update(step, {{"loss", loss_v}, {"acc", acc}}, static_cast<double>(step * points * 3));
  }
  progress.Finish();
  report::PlotOptions po;
  po.title = "kiln demo: spiral MLP";
  po.x_label = "step";
  po.y_label = "loss / accuracy";
  po.log_x = true;
  std::string svg = report::LinePlotSvg(
      {report::Series{.label = "cross-entropy", .x = xs, .y = losses},
       report::Series{.label = "train accuracy", .x = xs, .y = accs, .dashed = true}},
      po);
  if (auto st = report::WriteSvg(out + "/loss.svg", svg); !st.ok()) return Fail(st);
  std::printf("final loss %.6f, accuracy %.3f, weights checksum %016llx\n", loss_v, acc,
              static_cast<unsigned long long>(Checksum(params)));
  std::printf("wrote %s/loss.svg and %s/metrics.jsonl\n", out.c_str(), out.c_str());
  return kExitOk;
}

}  // namespace kiln::tools
