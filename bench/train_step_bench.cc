// A training step of a GPT on any backend (`--device cpu|cuda|cuda-sim`): GPT-2 initialization,
// AdamW, the same batch every step (token ids from a fixed Philox stream), mean cross-entropy, the
// default (fused) model path. Prints one JSON line with tokens/s and the step time; each timed
// step ends with the loss read back on the host, which waits for the device's stream, so the
// wall clock covers the whole step. bench/torch_lm.py --device cuda [--bf16] is PyTorch's side
// on the same GPU (scripts/gpu_check.sh runs both). Where the device is not usable (no GPU, a
// build without CUDA) it says so and exits 0, like every GPU benchmark.
//
//   train_step_bench --device cuda --model gpt2 --batch 8 --seq 1024 --steps 5 [--precision bf16]
//   train_step_bench --device cuda-sim --model tiny --batch 2 --seq 16 --steps 1   (dry run)
//   train_step_bench --device cuda --cuda-gemm cublaslt ...   (the GEMM switch, cuda/gemm_select.h)
//
// --precision bf16: mixed precision as `kiln train --precision bf16` (the step under
// AutocastGuard(kBF16): GEMM operands in bf16, f32 math and master weights;
// docs/mixed_precision.md).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "autograd/api.h"
#include "autograd/grad_mode.h"
#include "base/rng.h"
#include "base/thread_pool.h"
#include "cuda/gemm_select.h"
#include "nn/gpt.h"
#include "optim/adamw.h"
#include "tensor/device_memory.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string device = "cuda", model = "gpt2", precision = "f32", cuda_gemm;
  int64_t batch = 8, seq = 1024, steps = 5;
  int threads = 0;
};

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "train_step_bench: %s\nusage: train_step_bench [--device cpu|cuda|cuda:N|cuda-sim] "
               "[--model gpt2|small|tiny] [--batch N] [--seq T] [--steps N] [--threads N] "
               "[--precision f32|bf16] [--cuda-gemm tiled|cublas|cublaslt]\n",
               why.c_str());
  std::exit(2);
}

int64_t PositiveInt(const std::string& flag, const std::string& v) {
  char* end = nullptr;
  const long long x = std::strtoll(v.c_str(), &end, 10);
  if (end == v.c_str() || *end != '\0' || x < 1) Usage(flag + ": expected a positive integer, got '" + v + "'");
  return x;
}

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; i += 2) {
    const std::string k = argv[i];
    if (i + 1 >= argc) Usage(k + ": missing value");
    const std::string v = argv[i + 1];
    if (k == "--device") a.device = v;
    else if (k == "--model") a.model = v;
    else if (k == "--batch") a.batch = PositiveInt(k, v);
    else if (k == "--seq") a.seq = PositiveInt(k, v);
    else if (k == "--steps") a.steps = PositiveInt(k, v);
    else if (k == "--threads") a.threads = static_cast<int>(PositiveInt(k, v));
    else if (k == "--precision" && (v == "f32" || v == "bf16")) a.precision = v;
    else if (k == "--precision") Usage("--precision: expected f32 or bf16, got '" + v + "'");
    else if (k == "--cuda-gemm") a.cuda_gemm = v;
    else Usage("unknown flag " + k);
  }
  return a;
}

kiln::nn::GptConfig ConfigFor(const Args& a) {
  kiln::nn::GptConfig c;  // defaults: GPT-2 124M
  if (a.model == "small") c = kiln::nn::TinyGpt2Config(256, 256, 4, 4, 1024);
  else if (a.model == "tiny") c = kiln::nn::TinyGpt2Config(61, 32, 2, 4, 64);
  else if (a.model != "gpt2") Usage("--model: expected gpt2, small or tiny, got '" + a.model + "'");
  if (a.seq > c.max_positions) {
    Usage("--seq " + std::to_string(a.seq) + " exceeds the model's " +
          std::to_string(c.max_positions) + " positions");
  }
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = Parse(argc, argv);
  if (a.threads > 0) kiln::SetNumThreads(a.threads);
  const kiln::nn::GptConfig config = ConfigFor(a);
  if (auto parsed = kiln::ParseDevice(a.device); !parsed.ok()) {
    Usage(std::string(parsed.status().message()));
  }
  const absl::Status gemm = a.cuda_gemm.empty() ? kiln::CudaGemmFromEnv()
                                                : kiln::SetCudaGemm(a.cuda_gemm);
  if (!gemm.ok()) Usage("--cuda-gemm: " + std::string(gemm.message()));
  auto device = kiln::UsableDevice(a.device);
  if (!device.ok()) {
    std::printf("train_step_bench: device %s is not usable here (%s): nothing measured\n",
                a.device.c_str(), std::string(device.status().message()).c_str());
    return 0;
  }
  kiln::nn::GptModel model(config);
  model.Init(1234);
  model.To(*device);
  std::vector<int32_t> ids(a.batch * a.seq), tgt(a.batch * a.seq);
  kiln::RngStream rng(1);
  for (auto& x : ids) x = static_cast<int32_t>(rng.UniformInt(config.vocab_size));
  for (auto& x : tgt) x = static_cast<int32_t>(rng.UniformInt(config.vocab_size));
  const kiln::Tensor in = kiln::FromVector(ids, {a.batch, a.seq}, kiln::DType::kI32, *device);
  const kiln::Tensor targets = kiln::FromVector(tgt, {a.batch, a.seq}, kiln::DType::kI32, *device);
  kiln::optim::AdamW opt({{model.Parameters()}},
                         {.lr = 1e-4, .beta1 = 0.9, .beta2 = 0.95, .weight_decay = 0.1});
  auto step = [&] {
    opt.ZeroGrad();
    kiln::Tensor loss;
    {
      kiln::AutocastGuard autocast(a.precision == "bf16" ? kiln::DType::kBF16 : kiln::DType::kF32);
      loss = model.Loss({in}, targets);
    }
    kiln::Backward(loss);
    opt.Step();
    return loss.item();  // a host read: waits for the device
  };
  double loss = step();  // warm-up (allocator caches, packed buffers)
  const auto start = Clock::now();
  for (int64_t s = 0; s < a.steps; ++s) loss = step();
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  const double tokens = static_cast<double>(a.batch * a.seq * a.steps);
  const kiln::AllocatorStats mem = kiln::DeviceAllocatorStats(*device);
  std::printf(
      "{\"impl\": \"kiln\", \"device\": \"%s\", \"model\": \"%s\", \"dtype\": \"%s\", "
      "\"params\": %lld, \"batch\": %lld, \"seq\": %lld, \"tokens_per_s\": %.1f, "
      "\"step_ms\": %.2f, \"loss\": %.6f, \"device_peak_mib\": %.1f, \"cuda_gemm\": \"%s\"}\n",
      device->ToString().c_str(), a.model.c_str(), a.precision.c_str(),
      static_cast<long long>(model.NumParameters()),
      static_cast<long long>(a.batch), static_cast<long long>(a.seq), tokens / secs,
      1e3 * secs / static_cast<double>(a.steps), loss,
      static_cast<double>(mem.peak_in_use_bytes) / (1 << 20),
      device->type == kiln::Device::kCUDA ? kiln::CudaGemmName(kiln::ActiveCudaGemm())
                                          : "none (not a cuda device)");
  return 0;
}
