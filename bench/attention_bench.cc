// Fused causal attention (cpu/attention.h) vs the unfused composition a framework without the
// fused op would run: S = Q K^T (GEMM), mask + softmax materialized as (B, NH, T, T), O = P V, and
// a backward that materializes dP and dS. Prints forward+backward time and the peak extra memory
// (saved activations + scratch, counted by a replaced aligned operator new) side by side.
// Usage: attention_bench [T ...] (default 256 1024); KILN_BENCH_REPS=n (default 3).
#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "base/thread_pool.h"
#include "cpu/attention.h"
#include "cpu/gemm.h"

// ---- Byte counting: every 64-byte-aligned allocation (the fused kernels' scratch, the buffers
// below, kiln's GEMM packing if it uses aligned new) goes through here. ----
namespace {
std::atomic<int64_t> g_live{0}, g_peak{0};
constexpr size_t kHeader = 64;

void* CountedAlloc(size_t bytes, size_t align) {
  align = std::max(align, kHeader);
  const size_t total = (bytes + align + align - 1) / align * align;
  char* base = static_cast<char*>(std::aligned_alloc(align, total));
  if (base == nullptr) throw std::bad_alloc();
  char* user = base + align;
  reinterpret_cast<size_t*>(user)[-1] = bytes;
  reinterpret_cast<size_t*>(user)[-2] = align;
  const int64_t live = g_live.fetch_add(static_cast<int64_t>(bytes)) + static_cast<int64_t>(bytes);
  int64_t peak = g_peak.load();
  while (live > peak && !g_peak.compare_exchange_weak(peak, live)) {
  }
  return user;
}
void CountedFree(void* p) {
  if (p == nullptr) return;
  char* user = static_cast<char*>(p);
  const size_t bytes = reinterpret_cast<size_t*>(user)[-1];
  const size_t align = reinterpret_cast<size_t*>(user)[-2];
  g_live.fetch_sub(static_cast<int64_t>(bytes));
  std::free(user - align);
}
}  // namespace

void* operator new(size_t n, std::align_val_t a) { return CountedAlloc(n, size_t(a)); }
void* operator new[](size_t n, std::align_val_t a) { return CountedAlloc(n, size_t(a)); }
void operator delete(void* p, std::align_val_t) noexcept { CountedFree(p); }
void operator delete[](void* p, std::align_val_t) noexcept { CountedFree(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { CountedFree(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { CountedFree(p); }

namespace kiln::cpu {
namespace {

float* NewBuf(int64_t n) {
  return static_cast<float*>(::operator new[](n * sizeof(float), std::align_val_t(64)));
}
void FreeBuf(float* p) { ::operator delete[](p, std::align_val_t(64)); }

struct Shape {
  int64_t b, nh, t, hs;
};

struct Inputs {
  std::vector<float> q, k, v, dout;  // (B, NH, T, HS) each
};

struct Grads {
  std::vector<float> out, dq, dk, dv;
};

double Seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// ---- Fused ----
void FusedStep(const Shape& s, const Inputs& in, Grads& g) {
  const int64_t sb = s.nh * s.t * s.hs, sh = s.t * s.hs, st = s.hs;
  float* out = NewBuf(s.b * sb);  // saved for backward
  float* lse = NewBuf(s.b * s.nh * s.t);
  AttentionParams f;
  f.b = s.b, f.nh = s.nh, f.nkv = s.nh, f.tq = s.t, f.tk = s.t, f.hs = s.hs;
  f.scale = 1.0 / std::sqrt(double(s.hs));
  f.q = in.q.data(), f.q_sb = sb, f.q_sh = sh, f.q_st = st;
  f.k = in.k.data(), f.k_sb = sb, f.k_sh = sh, f.k_st = st;
  f.v = in.v.data(), f.v_sb = sb, f.v_sh = sh, f.v_st = st;
  f.out = out, f.out_sb = sb, f.out_sh = sh, f.out_st = st;
  f.lse = lse;
  AttentionForward(f);
  AttentionBackwardParams b;
  b.b = f.b, b.nh = f.nh, b.nkv = f.nkv, b.tq = f.tq, b.tk = f.tk, b.hs = f.hs, b.scale = f.scale;
  b.q = f.q, b.q_sb = sb, b.q_sh = sh, b.q_st = st;
  b.k = f.k, b.k_sb = sb, b.k_sh = sh, b.k_st = st;
  b.v = f.v, b.v_sb = sb, b.v_sh = sh, b.v_st = st;
  b.out = out, b.out_sb = sb, b.out_sh = sh, b.out_st = st;
  b.lse = lse;
  b.dout = in.dout.data(), b.dout_sb = sb, b.dout_sh = sh, b.dout_st = st;
  b.dq = g.dq.data(), b.dq_sb = sb, b.dq_sh = sh, b.dq_st = st;
  b.dk = g.dk.data(), b.dk_sb = sb, b.dk_sh = sh, b.dk_st = st;
  b.dv = g.dv.data(), b.dv_sb = sb, b.dv_sh = sh, b.dv_st = st;
  AttentionBackward(b);
  std::copy(out, out + s.b * sb, g.out.begin());
  FreeBuf(out);
  FreeBuf(lse);
}

// ---- Unfused: per (b, h) GEMMs over materialized (B, NH, T, T) tensors ----
using GemmFn = void (*)(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, bool ta,
                        const float* b, int64_t ldb, bool tb, float* c, int64_t ldc);

void KilnGemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, bool ta, const float* b,
              int64_t ldb, bool tb, float* c, int64_t ldc) {
  Sgemm(SgemmParams{m, n, k, a, lda, ta, b, ldb, tb, c, ldc, false});
}
void BlasGemm(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, bool ta, const float* b,
              int64_t ldb, bool tb, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, int(m),
              int(n), int(k), 1.0f, a, int(lda), b, int(ldb), 0.0f, c, int(ldc));
}

void UnfusedStep(const Shape& s, const Inputs& in, Grads& g, GemmFn gemm) {
  const int64_t t = s.t, hs = s.hs, bh = s.b * s.nh, tt = t * t, th = t * hs;
  const float scale = 1.0f / std::sqrt(float(hs));
  // Forward: S (scratch) -> P (saved), O (saved).
  float* sc = NewBuf(bh * tt);
  float* p = NewBuf(bh * tt);
  float* out = NewBuf(bh * th);
  for (int64_t x = 0; x < bh; ++x) {
    gemm(t, t, hs, in.q.data() + x * th, hs, false, in.k.data() + x * th, hs, true, sc + x * tt, t);
  }
  kiln::ParallelFor(bh * t, 1, [&](int64_t r_lo, int64_t r_hi) {
    for (int64_t r = r_lo; r < r_hi; ++r) {
      const int64_t i = r % t;
      const float* srow = sc + r * t;
      float* prow = p + r * t;
      float mx = -INFINITY;
      for (int64_t j = 0; j <= i; ++j) mx = std::max(mx, srow[j] * scale);
      float sum = 0;
      for (int64_t j = 0; j <= i; ++j) sum += prow[j] = std::exp(srow[j] * scale - mx);
      for (int64_t j = 0; j <= i; ++j) prow[j] /= sum;
      for (int64_t j = i + 1; j < t; ++j) prow[j] = 0;
    }
  });
  FreeBuf(sc);
  for (int64_t x = 0; x < bh; ++x) {
    gemm(t, hs, t, p + x * tt, t, false, in.v.data() + x * th, hs, false, out + x * th, hs);
  }
  // Backward: dP = dO V^T, dV = P^T dO, dS = P * (dP - rowsum(P * dP)), dQ = s dS K,
  // dK = s dS^T Q.
  float* dp = NewBuf(bh * tt);
  float* ds = NewBuf(bh * tt);
  for (int64_t x = 0; x < bh; ++x) {
    gemm(t, t, hs, in.dout.data() + x * th, hs, false, in.v.data() + x * th, hs, true, dp + x * tt,
         t);
    gemm(t, hs, t, p + x * tt, t, true, in.dout.data() + x * th, hs, false, g.dv.data() + x * th,
         hs);
  }
  kiln::ParallelFor(bh * t, 1, [&](int64_t r_lo, int64_t r_hi) {
    for (int64_t r = r_lo; r < r_hi; ++r) {
      const float* prow = p + r * t;
      const float* dprow = dp + r * t;
      float* dsrow = ds + r * t;
      float dsum = 0;
      for (int64_t j = 0; j < t; ++j) dsum += prow[j] * dprow[j];
      for (int64_t j = 0; j < t; ++j) dsrow[j] = scale * prow[j] * (dprow[j] - dsum);
    }
  });
  for (int64_t x = 0; x < bh; ++x) {
    gemm(t, hs, t, ds + x * tt, t, false, in.k.data() + x * th, hs, false, g.dq.data() + x * th,
         hs);
    gemm(t, hs, t, ds + x * tt, t, true, in.q.data() + x * th, hs, false, g.dk.data() + x * th, hs);
  }
  std::copy(out, out + bh * th, g.out.begin());
  FreeBuf(dp);
  FreeBuf(ds);
  FreeBuf(p);
  FreeBuf(out);
}

struct Measure {
  double seconds;
  int64_t peak_bytes;
};

template <typename F>
Measure Run(F step, int reps) {
  step();  // warm-up (first touch, thread pool)
  double best = 1e30;
  int64_t peak = 0;
  for (int r = 0; r < reps; ++r) {
    const int64_t base = g_live.load();
    g_peak.store(base);
    const double t0 = Seconds();
    step();
    best = std::min(best, Seconds() - t0);
    peak = std::max(peak, g_peak.load() - base);
  }
  return {best, peak};
}

double MaxDiff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t x = 0; x < a.size(); ++x) m = std::max(m, double(std::abs(a[x] - b[x])));
  return m;
}

std::string Mib(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f MiB", bytes / 1048576.0);
  return buf;
}

}  // namespace
}  // namespace kiln::cpu

int main(int argc, char** argv) {
  using namespace kiln::cpu;
  std::vector<int64_t> ts;
  for (int a = 1; a < argc; ++a) ts.push_back(std::atoll(argv[a]));
  if (ts.empty()) ts = {256, 1024};
  const char* reps_env = std::getenv("KILN_BENCH_REPS");
  const int reps = reps_env ? std::max(1, std::atoi(reps_env)) : 3;
  std::printf("causal attention fwd+bwd, NH=12 HS=64 f32, %d threads, best of %d\n",
              kiln::NumThreads(), reps);
  std::printf("%5s %2s | %10s %12s | %10s %12s | %10s | %7s %8s | %9s\n", "T", "B", "fused ms",
              "fused mem", "kiln-gemm", "unfused mem", "blas-gemm", "t ratio", "mem ratio",
              "max diff");
  for (int64_t t : ts) {
    for (int64_t b : {1, 4}) {
      const Shape s{b, 12, t, 64};
      const int64_t n = s.b * s.nh * s.t * s.hs;
      Inputs in;
      std::mt19937 rng(1);
      std::uniform_real_distribution<float> u(-1.f, 1.f);
      for (auto* x : {&in.q, &in.k, &in.v, &in.dout}) {
        x->resize(n);
        for (auto& e : *x) e = u(rng);
      }
      Grads gf{std::vector<float>(n), std::vector<float>(n), std::vector<float>(n),
               std::vector<float>(n)};
      Grads gu = gf, gb = gf;
      const Measure mf = Run([&] { FusedStep(s, in, gf); }, reps);
      const Measure mu = Run([&] { UnfusedStep(s, in, gu, KilnGemm); }, reps);
      const Measure mb = Run([&] { UnfusedStep(s, in, gb, BlasGemm); }, reps);
      const double diff = std::max({MaxDiff(gf.out, gb.out), MaxDiff(gf.dq, gb.dq),
                                    MaxDiff(gf.dk, gb.dk), MaxDiff(gf.dv, gb.dv)});
      std::printf("%5lld %2lld | %10.1f %12s | %10.1f %12s | %10.1f | %7.2f %8.1fx | %9.2e\n",
                  (long long)t, (long long)b, mf.seconds * 1e3, Mib(mf.peak_bytes).c_str(),
                  mu.seconds * 1e3, Mib(mu.peak_bytes).c_str(), mb.seconds * 1e3,
                  mu.seconds / mf.seconds, double(mu.peak_bytes) / double(mf.peak_bytes), diff);
      std::fflush(stdout);
    }
  }
  std::printf(
      "fused mem / unfused mem: saved activations + scratch of one fwd+bwd (inputs and\n"
      "gradients excluded); t ratio = kiln-gemm unfused time / fused time.\n");
  return 0;
}
