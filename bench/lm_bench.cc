// kiln's half of the side-by-side language-model benchmark (bench/lm_compare.py runs it and
// bench/torch_lm.py with the same arguments, each in its own process so peak memory is its own,
// and prints both and the ratio kiln/PyTorch). Prints one JSON line.
//
//   lm_bench --model small|tiny|gpt2 --mode train --batch 8 --seq 256 --steps 5 --threads 2
//   lm_bench --model small --mode sample --batch 16 --prompt 16 --new-tokens 128
//
// Training: GPT-2 initialization, AdamW, the same batch every step (token ids from a fixed
// Philox stream), loss = mean cross-entropy. Sampling: greedy decoding with a KV cache per sample
// (GptModel::ForwardCached), prompt prefilled in one call. Also measures OpenBLAS sgemm GFLOP/s on
// a (B*T) x C x C shape of the model in the same run, so model FLOP/s can be read as a share of
// what the BLAS reaches on this machine.
#include <cblas.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <new>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "autograd/api.h"
#include "base/rng.h"
#include "base/thread_pool.h"
#include "cpu/isa.h"
#include "nn/gpt.h"
#include "ops/profile.h"
#include "optim/adamw.h"
#include "tensor/storage.h"

extern "C" void openblas_set_num_threads(int);

// Every C++ heap allocation of the process is counted (tensor metadata, vectors, autograd nodes),
// so the decoding loop's allocations per step are measured, not just the tensor allocator's.
namespace {
std::atomic<int64_t> g_heap_allocs{0};
}  // namespace
void* operator new(size_t n) {
  g_heap_allocs.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace {

using Clock = std::chrono::steady_clock;
using kiln::Tensor;

struct Args {
  std::string model = "small", mode = "train";
  int64_t batch = 8, seq = 256, steps = 5, prompt = 16, new_tokens = 128;
  int threads = 2;
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--model") a.model = v;
    else if (k == "--mode") a.mode = v;
    else if (k == "--batch") a.batch = std::atoll(v.c_str());
    else if (k == "--seq") a.seq = std::atoll(v.c_str());
    else if (k == "--steps") a.steps = std::atoll(v.c_str());
    else if (k == "--prompt") a.prompt = std::atoll(v.c_str());
    else if (k == "--new-tokens") a.new_tokens = std::atoll(v.c_str());
    else if (k == "--threads") a.threads = std::atoi(v.c_str());
    else {
      std::fprintf(stderr, "lm_bench: unknown flag %s\n", k.c_str());
      std::exit(2);
    }
  }
  return a;
}

kiln::nn::GptConfig ConfigFor(const std::string& name) {
  if (name == "small") {
    // 4 layers, 4 heads, width 256, vocab 256 (the small model).
    return kiln::nn::TinyGpt2Config(256, 256, 4, 4, 1024);
  }
  if (name == "tiny") {
    // Model (a)'s depth and vocabulary at width 32: its decoding speed is kiln's per-op overhead.
    return kiln::nn::TinyGpt2Config(256, 32, 4, 4, 1024);
  }
  if (name == "gpt2") {
    kiln::nn::GptConfig c;  // defaults are GPT-2 124M
    return c;
  }
  std::fprintf(stderr, "lm_bench: unknown model %s (small|tiny|gpt2)\n", name.c_str());
  std::exit(2);
}

double PeakRssMiB() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

// Training FLOPs per token: 6 N (N = parameters used in matmuls: blocks + the head, not wpe)
// plus attention 6 L T C (QK^T and AV, forward + backward, causal half of 12 L T C).
double TrainFlopsPerToken(const kiln::nn::GptConfig& c, int64_t n_matmul_params, int64_t t) {
  return 6.0 * static_cast<double>(n_matmul_params) +
         6.0 * static_cast<double>(c.n_layer * t * c.n_embd);
}

double SgemmGflops(int64_t m, int64_t n, int64_t k, int threads) {
  openblas_set_num_threads(threads);
  std::vector<float> a(m * k, 0.5f), b(k * n, 0.25f), c(m * n);
  auto run = [&] {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m), static_cast<int>(n),
                static_cast<int>(k), 1.0f, a.data(), static_cast<int>(k), b.data(),
                static_cast<int>(k), 0.0f, c.data(), static_cast<int>(n));
  };
  run();
  int reps = 0;
  const auto start = Clock::now();
  double s = 0;
  do {
    run();
    ++reps;
    s = std::chrono::duration<double>(Clock::now() - start).count();
  } while (s < 1.0);
  return 2.0 * m * n * k * reps / s / 1e9;
}

// Memory bandwidth the decoding loop can hope for: memcpy of a buffer well beyond the last-level
// cache (256 MiB source) on the benchmark's threads, GB/s counting the bytes read plus the bytes
// written. Best of 5. Call it after reading the peak RSS (its buffers would dominate it).
double MemcpyGBps() {
  const size_t n = size_t{256} << 20;
  std::vector<char> src(n, 1), dst(n, 0);
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const auto start = Clock::now();
    // Split over kiln's threads (the same count the decoding loop uses), in 1 MiB chunks.
    const int64_t chunks = static_cast<int64_t>(n >> 20);
    kiln::ParallelFor(chunks, chunks / kiln::NumThreads(), [&](int64_t begin, int64_t end) {
      std::memcpy(dst.data() + (begin << 20), src.data() + (begin << 20),
                  static_cast<size_t>(end - begin) << 20);
    });
    const double s = std::chrono::duration<double>(Clock::now() - start).count();
    best = std::max(best, 2.0 * static_cast<double>(n) / s / 1e9);
    src[rep] = dst[n - 1 - rep];  // keep the copies observable
  }
  return best;
}

// Bytes of weights one decoding step reads per sample-independent pass: every matrix of the
// blocks and the head (f32), one embedding row each for wte and wpe, the norms' vectors. At batch
// B the weights are read once per step for all B samples.
double WeightBytesPerStep(const kiln::nn::GptConfig& c, int64_t n_params) {
  const int64_t embeddings = (c.vocab_size + c.max_positions) * c.n_embd;
  const bool tied = c.tie_word_embeddings;
  const int64_t head = tied ? c.vocab_size * c.n_embd : 0;  // tied: wte read again as the head
  return 4.0 * static_cast<double>(n_params - embeddings + head + 2 * c.n_embd);
}

std::vector<int32_t> Tokens(int64_t n, int64_t vocab, uint64_t seed) {
  kiln::RngStream rng(seed);
  std::vector<int32_t> v(n);
  for (auto& x : v) x = static_cast<int32_t>(rng.UniformInt(vocab));
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = Parse(argc, argv);
  kiln::SetNumThreads(a.threads);
  const kiln::nn::GptConfig config = ConfigFor(a.model);
  kiln::nn::GptModel model(config);
  model.Init(1234);
  int64_t matmul_params = model.NumParameters() - config.max_positions * config.n_embd;
  if (a.mode == "train") {
    Tensor ids = kiln::FromVector(Tokens(a.batch * a.seq, config.vocab_size, 1), {a.batch, a.seq});
    Tensor tgt = kiln::FromVector(Tokens(a.batch * a.seq, config.vocab_size, 2), {a.batch, a.seq});
    kiln::optim::AdamW opt({{model.Parameters()}},
                           {.lr = 1e-4, .beta1 = 0.9, .beta2 = 0.95, .weight_decay = 0.1});
    auto step = [&] {
      opt.ZeroGrad();
      Tensor loss = model.Loss({ids}, tgt);
      kiln::Backward(loss);
      opt.Step();
      return loss.item();
    };
    double loss = step();  // warm-up
    // KILN_PROFILE=1: the table covers the timed steps only, with each op's share of the step.
    kiln::ops::ResetProfile();
    kiln::ResetCpuAllocatorPeak();
    const kiln::AllocatorStats before = kiln::CpuAllocatorStats();
    const auto start = Clock::now();
    for (int64_t s = 0; s < a.steps; ++s) {
      loss = step();
      kiln::ops::ProfileStep();
    }
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    const kiln::AllocatorStats after = kiln::CpuAllocatorStats();
    const double tokens = static_cast<double>(a.batch * a.seq * a.steps);
    const double tps = tokens / secs;
    const double model_gflops = TrainFlopsPerToken(config, matmul_params, a.seq) * tps / 1e9;
    const double blas = SgemmGflops(a.batch * a.seq, config.n_embd, config.n_embd, a.threads);
    std::printf(
        "{\"impl\": \"kiln\", \"isa\": \"%s\", \"mode\": \"train\", \"model\": \"%s\", "
        "\"params\": %lld, \"tokens_per_s\": %.1f, \"step_s\": %.4f, \"loss\": %.6f, "
        "\"model_gflops\": %.2f, \"sgemm_gflops\": %.2f, \"peak_rss_mib\": %.1f, "
        "\"tensor_peak_mib\": %.1f, \"fresh_allocs_per_step\": %.1f}\n",
        kiln::cpu::IsaName(kiln::cpu::ActiveIsa()), a.model.c_str(),
        static_cast<long long>(model.NumParameters()), tps, secs / a.steps, loss, model_gflops,
        blas, PeakRssMiB(), static_cast<double>(after.peak_in_use_bytes) / (1 << 20),
        static_cast<double>(after.fresh_allocations - before.fresh_allocations) /
            static_cast<double>(a.steps));
  } else if (a.mode == "sample") {
    kiln::NoGradGuard no_grad;
    std::vector<int32_t> prompts = Tokens(a.batch * a.prompt, config.vocab_size, 3);
    std::vector<kiln::nn::KvCache> caches;
    for (int64_t i = 0; i < a.batch; ++i) {
      caches.push_back(kiln::nn::KvCache::Make(config, a.prompt + a.new_tokens));
    }
    std::vector<kiln::nn::KvCache*> ptrs;
    for (auto& c : caches) ptrs.push_back(&c);
    kiln::ops::ResetProfile();  // KILN_PROFILE=1: the table covers prefill + decoding only
    const auto start = Clock::now();
    Tensor logits = model.ForwardCached(prompts, std::vector<int64_t>(a.batch, a.prompt), ptrs);
    int64_t checksum = 0;
    kiln::AllocatorStats before{};
    int64_t heap_before = 0;
    for (int64_t t = 0; t < a.new_tokens; ++t) {
      // Fresh (system) allocations are counted over the steps after the first two decode steps.
      if (t == 2) {
        before = kiln::CpuAllocatorStats();
        heap_before = g_heap_allocs.load();
      }
      std::vector<int64_t> next = kiln::ops::Argmax(logits, 1).ToVector<int64_t>();
      std::vector<int32_t> tok(next.begin(), next.end());
      for (int32_t x : tok) checksum = checksum * 31 + x;
      if (t + 1 == a.new_tokens) break;
      logits = model.ForwardCached(tok, std::vector<int64_t>(a.batch, 1), ptrs);
    }
    const double secs = std::chrono::duration<double>(Clock::now() - start).count();
    const kiln::AllocatorStats after = kiln::CpuAllocatorStats();
    const int64_t heap_after = g_heap_allocs.load();
    const double peak_rss = PeakRssMiB();
    const int64_t counted_steps = std::max<int64_t>(a.new_tokens - 3, 1);
    // Bandwidth bound: each decode step reads every weight once (for all samples of the batch).
    const double weight_bytes = WeightBytesPerStep(config, model.NumParameters());
    const double memcpy_gbps = MemcpyGBps();
    const double bound_steps_per_s = memcpy_gbps * 1e9 / weight_bytes;
    const double steps_per_s = static_cast<double>(a.new_tokens) / secs;
    std::printf(
        "{\"impl\": \"kiln\", \"isa\": \"%s\", \"mode\": \"sample\", \"model\": \"%s\", "
        "\"batch\": %lld, \"tokens_per_s\": %.1f, \"seconds\": %.3f, \"checksum\": %lld, "
        "\"peak_rss_mib\": %.1f, \"fresh_allocs_per_step\": %.2f, \"heap_allocs_per_step\": %.1f, \"weight_mib_per_step\": %.1f, "
        "\"memcpy_gbps\": %.1f, \"bandwidth_bound_tokens_per_s\": %.1f, "
        "\"weight_gbps\": %.1f}\n",
        kiln::cpu::IsaName(kiln::cpu::ActiveIsa()), a.model.c_str(),
        static_cast<long long>(a.batch), a.batch * a.new_tokens / secs, secs,
        static_cast<long long>(checksum), peak_rss,
        static_cast<double>(after.fresh_allocations - before.fresh_allocations) /
            static_cast<double>(counted_steps),
        static_cast<double>(heap_after - heap_before) / static_cast<double>(counted_steps),
        weight_bytes / (1 << 20), memcpy_gbps, bound_steps_per_s * static_cast<double>(a.batch),
        steps_per_s * weight_bytes / 1e9);
  } else {
    std::fprintf(stderr, "lm_bench: unknown mode %s (train|sample)\n", a.mode.c_str());
    return 2;
  }
  return 0;
}
