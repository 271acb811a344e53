// Benchmarks of kiln's CUDA kernels (cuda/*.cu, the nvcc build kiln::cuda) on the pattern of
// llm.c's dev/cuda: every timed call runs after an L2 flush (a memset of twice the L2 size), is
// timed with CUDA events, and the median of --repeat calls is reported with its TFLOP/s (GEMM-like
// kernels) or effective GB/s (bytes a kernel must move at least, over its time). Where a reference
// exists it runs side by side: the matmul against cublasSgemm and cublasLtMatmul (FP32 compute,
// TF32 off: CUBLAS_DEFAULT_MATH / CUBLAS_COMPUTE_32F, and NVIDIA_TF32_OVERRIDE=0 is set); fused
// kernels against their unfused kiln chains. Each such group prints which version wins. The
// "versions" group times every kernel version of an op (cuda/versions.h: V1 and V2 of the attention
// forward and of the GEMM), checks that they give the same bits, and prints the winner per op and
// the KILN_CUDA_KERNELS value that selects all winners.
// Shapes are GPT-2 124M training shapes (B 8, T 1024, C 768, 12 heads, V 50257); --quick quarters
// the batch. Without a usable GPU it prints why and exits 0 (scripts/gpu_check.sh runs it).
//   cuda_bench [--repeat=N] [--quick] [--only=SUBSTRING]   (groups: matmul, attention, rows,
//   linear_cross_entropy, versions)
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "base/check.h"
#include "cuda/check.h"
#include "cuda/kernels.h"
#include "cuda/versions.h"

namespace kiln::cuda {
namespace {

void CublasCheck(cublasStatus_t s, const char* what) {
  KILN_CHECK(s == CUBLAS_STATUS_SUCCESS) << what << ": " << cublasGetStatusString(s);
}

// A device buffer of n elements of T, filled from a repeating host pattern of uniform randoms.
template <typename T>
class Buf {
 public:
  explicit Buf(size_t n) : n_(n) {
    KILN_CUDA_CHECK(cudaMalloc(&p_, std::max<size_t>(n, 1) * sizeof(T)));
  }
  ~Buf() { cudaFree(p_); }
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  T* get() const { return p_; }
  size_t size() const { return n_; }

 private:
  T* p_ = nullptr;
  size_t n_;
};

Buf<float>* Random(size_t n, float lo, float hi, uint32_t seed) {
  auto* b = new Buf<float>(n);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> pattern(std::min<size_t>(n, size_t{1} << 22) + 7);
  for (float& x : pattern) x = d(rng);
  for (size_t off = 0, k = 0; off < n; ++k) {
    const size_t len = std::min(n - off, pattern.size() - 7);
    KILN_CUDA_CHECK(cudaMemcpy(b->get() + off, pattern.data() + k % 7, len * sizeof(float),
                               cudaMemcpyHostToDevice));
    off += len;
  }
  return b;
}

std::vector<float> ToHost(const float* d, size_t n) {
  std::vector<float> h(n);
  KILN_CUDA_CHECK(cudaMemcpy(h.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost));
  return h;
}

// max |a - b| / max(max |b|, 1e-30): a sanity check that the versions compute the same thing.
double RelDiff(const std::vector<float>& a, const std::vector<float>& b) {
  double d = 0, m = 1e-30;
  for (size_t i = 0; i < a.size(); ++i) {
    d = std::max(d, std::fabs(static_cast<double>(a[i]) - b[i]));
    m = std::max(m, std::fabs(static_cast<double>(b[i])));
  }
  return d / m;
}

class Timer {
 public:
  Timer(int repeat) : repeat_(repeat) {
    KILN_CUDA_CHECK(cudaEventCreate(&start_));
    KILN_CUDA_CHECK(cudaEventCreate(&stop_));
    int dev = 0, l2 = 0;
    KILN_CUDA_CHECK(cudaGetDevice(&dev));
    KILN_CUDA_CHECK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev));
    flush_bytes_ = 2 * static_cast<size_t>(std::max(l2, 1 << 20));
    KILN_CUDA_CHECK(cudaMalloc(&flush_, flush_bytes_));
  }
  ~Timer() {
    cudaFree(flush_);
    cudaEventDestroy(start_);
    cudaEventDestroy(stop_);
  }
  // Median milliseconds of fn over `repeat` calls, each after an L2 flush (one warm-up first).
  double Ms(const std::function<void()>& fn) {
    fn();
    KILN_CUDA_CHECK(cudaDeviceSynchronize());
    std::vector<float> ms;
    for (int r = 0; r < repeat_; ++r) {
      KILN_CUDA_CHECK(cudaMemsetAsync(flush_, r & 0xff, flush_bytes_));
      KILN_CUDA_CHECK(cudaEventRecord(start_));
      fn();
      KILN_CUDA_CHECK(cudaEventRecord(stop_));
      KILN_CUDA_CHECK(cudaEventSynchronize(stop_));
      float t = 0;
      KILN_CUDA_CHECK(cudaEventElapsedTime(&t, start_, stop_));
      ms.push_back(t);
    }
    std::sort(ms.begin(), ms.end());
    return ms[ms.size() / 2];
  }

 private:
  int repeat_;
  cudaEvent_t start_, stop_;
  void* flush_ = nullptr;
  size_t flush_bytes_ = 0;
};

// One result line: name, shape, ms, and TFLOP/s (flops > 0) or effective GB/s (bytes > 0).
void Row(const std::string& name, const std::string& shape, double ms, double flops, double bytes,
         const std::string& note = "") {
  char rate[64];
  if (flops > 0) {
    std::snprintf(rate, sizeof(rate), "%8.2f TFLOP/s", flops / (ms * 1e-3) / 1e12);
  } else {
    std::snprintf(rate, sizeof(rate), "%8.1f GB/s   ", bytes / (ms * 1e-3) / 1e9);
  }
  std::printf("  %-36s %-26s %9.3f ms  %s  %s\n", name.c_str(), shape.c_str(), ms, rate,
              note.c_str());
  std::fflush(stdout);
}

// "winner: X (1.23x faster than Y, ...)" over (label, ms) pairs.
void Winner(const std::vector<std::pair<std::string, double>>& v) {
  size_t best = 0;
  for (size_t i = 1; i < v.size(); ++i) best = v[i].second < v[best].second ? i : best;
  std::string s = "  -> winner: " + v[best].first + " (";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i == best) continue;
    char buf[96];
    std::snprintf(buf, sizeof(buf), "%s%.2fx faster than %s", s.back() == '(' ? "" : ", ",
                  v[i].second / v[best].second, v[i].first.c_str());
    s += buf;
  }
  std::printf("%s)\n", v.size() > 1 ? s.c_str() : ("  -> " + v[best].first).c_str());
}

struct Gpt {
  int64_t b, t, c, nh, v;
  int64_t Rows() const { return b * t; }
};

std::string Dims(std::initializer_list<int64_t> d) {
  std::string s;
  for (int64_t x : d) s += (s.empty() ? "" : "x") + std::to_string(x);
  return s;
}

// ---- matmul: kiln tiled GEMM vs cublasSgemm vs cublasLtMatmul (row-major y = x W^T) ----------
void BenchMatmul(Timer& timer, const Gpt& g) {
  std::printf("\nmatmul (y (M, N) = x (M, K) W (N, K)^T, FP32; cuBLAS: TF32 off)\n");
  cublasHandle_t blas;
  CublasCheck(cublasCreate(&blas), "cublasCreate");
  CublasCheck(cublasSetMathMode(blas, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
  cublasLtHandle_t lt;
  CublasCheck(cublasLtCreate(&lt), "cublasLtCreate");
  const size_t ws_bytes = size_t{32} << 20;
  void* ws = nullptr;
  KILN_CUDA_CHECK(cudaMalloc(&ws, ws_bytes));
  const int64_t m = g.Rows(), c = g.c;
  const int64_t shapes[][2] = {{3 * c, c}, {c, c}, {4 * c, c}, {c, 4 * c}};  // qkv, proj, fc, fc2
  for (const auto& s : shapes) {
    const int64_t n = s[0], k = s[1];
    std::unique_ptr<Buf<float>> x(Random(m * k, -1, 1, 1)), w(Random(n * k, -1, 1, 2));
    std::unique_ptr<Buf<float>> bias(Random(n, -1, 1, 3));
    Buf<float> y(m * n), yref(m * n);
    const double flops = 2.0 * m * n * k;
    const std::string shape = Dims({m, n, k});
    const double t_kiln =
        timer.Ms([&] { Matmul(y.get(), x->get(), w->get(), m, n, k, false, true, nullptr); });
    const float one = 1.0f, zero = 0.0f;
    const double t_sgemm = timer.Ms([&] {
      CublasCheck(
          cublasSgemm(blas, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(n), static_cast<int>(m),
                      static_cast<int>(k), &one, w->get(), static_cast<int>(k), x->get(),
                      static_cast<int>(k), &zero, yref.get(), static_cast<int>(n)),
          "cublasSgemm");
    });
    const double diff = RelDiff(ToHost(y.get(), y.size()), ToHost(yref.get(), yref.size()));
    // cublasLt: the same column-major problem, FP32 compute (no TF32).
    cublasLtMatmulDesc_t op;
    CublasCheck(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F), "LtDescCreate");
    const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta));
    cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb));
    cublasLtMatrixLayout_t la, lb, lc;
    CublasCheck(cublasLtMatrixLayoutCreate(&la, CUDA_R_32F, k, n, k), "LtLayout a");
    CublasCheck(cublasLtMatrixLayoutCreate(&lb, CUDA_R_32F, k, m, k), "LtLayout b");
    CublasCheck(cublasLtMatrixLayoutCreate(&lc, CUDA_R_32F, n, m, n), "LtLayout c");
    cublasLtMatmulPreference_t pref;
    CublasCheck(cublasLtMatmulPreferenceCreate(&pref), "LtPreference");
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_bytes,
                                         sizeof(ws_bytes));
    cublasLtMatmulHeuristicResult_t heur;
    int found = 0;
    CublasCheck(cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb, lc, lc, pref, 1, &heur, &found),
                "LtHeuristic");
    double t_lt = -1;
    if (found > 0) {
      t_lt = timer.Ms([&] {
        CublasCheck(cublasLtMatmul(lt, op, &one, w->get(), la, x->get(), lb, &zero, yref.get(), lc,
                                   yref.get(), lc, &heur.algo, ws, ws_bytes, nullptr),
                    "cublasLtMatmul");
      });
    }
    // Linear: the same GEMM with the bias as every chain's start (kiln's fused Linear).
    const double t_linear =
        timer.Ms([&] { Linear(y.get(), x->get(), w->get(), bias->get(), m, n, k, nullptr); });
    char note[64];
    std::snprintf(note, sizeof(note), "max rel diff vs cuBLAS %.1e", diff);
    const int mv = cuda_versions::KernelVersion(cuda_versions::KernelOp::kMatmul);
    Row(mv == 1 ? "kiln Matmul (V1 tiled 64x64x16)" : "kiln Matmul (V2 tiled 128x128x8)", shape,
        t_kiln, flops, 0, note);
    Row("cublasSgemm", shape, t_sgemm, flops, 0,
        "kiln / cuBLAS time " + std::to_string(t_kiln / t_sgemm).substr(0, 5));
    if (t_lt > 0) Row("cublasLtMatmul (COMPUTE_32F)", shape, t_lt, flops, 0);
    Row("kiln Linear (bias in the GEMM)", shape, t_linear, flops, 0);
    std::vector<std::pair<std::string, double>> v = {{"kiln Matmul", t_kiln},
                                                     {"cublasSgemm", t_sgemm}};
    if (t_lt > 0) v.push_back({"cublasLt", t_lt});
    Winner(v);
    cublasLtMatmulPreferenceDestroy(pref);
    cublasLtMatrixLayoutDestroy(la);
    cublasLtMatrixLayoutDestroy(lb);
    cublasLtMatrixLayoutDestroy(lc);
    cublasLtMatmulDescDestroy(op);
  }
  cudaFree(ws);
  cublasLtDestroy(lt);
  cublasDestroy(blas);
}

// ---- attention forward / backward (no cuDNN reference yet) -----------------------------------
void BenchAttention(Timer& timer, const Gpt& g) {
  std::printf("\nattention (causal, FP32; FLOPs counted as flash-attention does: causal half)\n");
  const int64_t hs = g.c / g.nh, n = g.b * g.nh * g.t * hs;
  std::unique_ptr<Buf<float>> q(Random(n, -1, 1, 1)), k(Random(n, -1, 1, 2)),
      v(Random(n, -1, 1, 3));
  std::unique_ptr<Buf<float>> dout(Random(n, -1, 1, 4));
  Buf<float> out(n), lse(g.b * g.nh * g.t), dq(n), dk(n), dv(n);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  const double fwd_flops = 4.0 * g.b * g.nh * g.t * g.t * hs / 2;
  const std::string shape = Dims({g.b, g.nh, g.t, hs});
  const double t_fwd = timer.Ms([&] {
    Attention(out.get(), lse.get(), q->get(), k->get(), v->get(), nullptr, g.b, g.nh, g.nh, g.t,
              g.t, hs, scale, nullptr);
  });
  Row("kiln Attention forward (V" +
          std::to_string(cuda_versions::KernelVersion(cuda_versions::KernelOp::kAttention)) + ")",
      shape, t_fwd, fwd_flops, 0);
  const double t_bwd = timer.Ms([&] {
    AttentionBackward(dq.get(), dk.get(), dv.get(), q->get(), k->get(), v->get(), out.get(),
                      lse.get(), dout->get(), nullptr, g.b, g.nh, g.nh, g.t, g.t, hs, scale,
                      nullptr);
  });
  Row("kiln AttentionBackward", shape, t_bwd, 2.5 * fwd_flops, 0, "(2.5x the forward's FLOPs)");
}

// ---- layernorm, softmax, cross-entropy, adamw, elementwise ------------------------------------
void BenchRows(Timer& timer, const Gpt& g) {
  const int64_t r = g.Rows(), c = g.c, nc = r * c;
  std::printf("\nlayernorm (rows %lld, C %lld)\n", static_cast<long long>(r),
              static_cast<long long>(c));
  {
    std::unique_ptr<Buf<float>> x(Random(nc, -3, 3, 1)), res(Random(nc, -3, 3, 2));
    std::unique_ptr<Buf<float>> w(Random(c, 0.5f, 1.5f, 3)), b(Random(c, -1, 1, 4));
    std::unique_ptr<Buf<float>> gy(Random(nc, -1, 1, 5));
    Buf<float> y(nc), h(nc), mean(r), rstd(r), gx(nc), gw(c), gb(c);
    const std::string shape = Dims({r, c});
    const double t_f = timer.Ms([&] {
      LayerNorm(y.get(), mean.get(), rstd.get(), x->get(), w->get(), b->get(), r, c, 1e-5f,
                nullptr);
    });
    Row("kiln LayerNorm forward", shape, t_f, 0, 2.0 * nc * 4);
    const double t_b = timer.Ms([&] {
      LayerNormBackward(gx.get(), gw.get(), gb.get(), x->get(), w->get(), mean.get(), rstd.get(),
                        gy->get(), r, c, nullptr);
    });
    Row("kiln LayerNormBackward (x, w, b)", shape, t_b, 0, 3.0 * nc * 4);
    const double t_fused = timer.Ms([&] {
      AddLayerNorm(y.get(), h.get(), mean.get(), rstd.get(), x->get(), res->get(), w->get(),
                   b->get(), r, c, 1e-5f, nullptr);
    });
    const double t_unfused = timer.Ms([&] {
      Binary(Op::kAdd, h.get(), x->get(), res->get(), nc, nullptr);
      LayerNorm(y.get(), mean.get(), rstd.get(), h.get(), w->get(), b->get(), r, c, 1e-5f, nullptr);
    });
    Row("kiln AddLayerNorm (fused)", shape, t_fused, 0, 4.0 * nc * 4);
    Row("kiln Add + LayerNorm (unfused)", shape, t_unfused, 0, 4.0 * nc * 4);
    Winner({{"AddLayerNorm", t_fused}, {"Add + LayerNorm", t_unfused}});
  }
  const int64_t n = g.Rows() / 2, v = g.v, nv = n * v;  // logits rows: half the tokens (memory)
  std::printf("\nsoftmax / cross-entropy (rows %lld, V %lld)\n", static_cast<long long>(n),
              static_cast<long long>(v));
  {
    std::unique_ptr<Buf<float>> x(Random(nv, -4, 4, 6)), gl(Random(n, 0.5f, 1.5f, 7));
    Buf<float> y(nv), loss(n), lse(n);
    Buf<int64_t> t(n);
    std::vector<int64_t> th(n);
    for (int64_t i = 0; i < n; ++i) th[i] = (i * 7919) % v;
    KILN_CUDA_CHECK(cudaMemcpy(t.get(), th.data(), n * 8, cudaMemcpyHostToDevice));
    const std::string shape = Dims({n, v});
    Row("kiln Softmax", shape, timer.Ms([&] { Softmax(y.get(), x->get(), n, v, nullptr); }), 0,
        2.0 * nv * 4);
    Row("kiln CrossEntropy forward", shape, timer.Ms([&] {
      CrossEntropy(loss.get(), lse.get(), x->get(), t.get(), n, v, -100, 0.0f, nullptr);
    }),
        0, 1.0 * nv * 4);
    Row("kiln CrossEntropyBackward", shape, timer.Ms([&] {
      CrossEntropyBackward(y.get(), x->get(), t.get(), lse.get(), gl->get(), n, v, -100, 0.0f,
                           nullptr);
    }),
        0, 2.0 * nv * 4);
  }
  std::printf("\nadamw / elementwise\n");
  {
    const int64_t p = 124'000'000;
    std::unique_ptr<Buf<float>> param(Random(p, -1, 1, 8)), grad(Random(p, -1, 1, 9));
    std::unique_ptr<Buf<float>> m(Random(p, -0.1f, 0.1f, 10)), vv(Random(p, 0, 0.1f, 11));
    Row("kiln AdamW", Dims({p}), timer.Ms([&] {
      AdamW(param->get(), m->get(), vv->get(), grad->get(), p, 3e-4, 0.9, 0.95, 1e-8, 0.1,
            3e-4 / 0.1, std::sqrt(1 - 0.95), nullptr);
    }),
        0, 7.0 * p * 4);
  }
  {
    const int64_t e = g.Rows() * 4 * g.c;  // the MLP's hidden activations
    std::unique_ptr<Buf<float>> a(Random(e, -4, 4, 12)), b(Random(e, -2, 2, 13));
    std::unique_ptr<Buf<float>> gy(Random(e, -1, 1, 14));
    Buf<float> y(e), s(e), g1(e), g2(e);
    const std::string shape = Dims({e});
    Row("kiln Gelu", shape, timer.Ms([&] { Unary(Op::kGelu, y.get(), a->get(), e, 0, nullptr); }),
        0, 2.0 * e * 4);
    Row("kiln Add", shape,
        timer.Ms([&] { Binary(Op::kAdd, y.get(), a->get(), b->get(), e, nullptr); }), 0,
        3.0 * e * 4);
    const double t_sw = timer.Ms([&] { Swiglu(y.get(), a->get(), b->get(), e, nullptr); });
    const double t_sw_unfused = timer.Ms([&] {
      Unary(Op::kSilu, s.get(), a->get(), e, 0, nullptr);
      Binary(Op::kMul, y.get(), s.get(), b->get(), e, nullptr);
    });
    Row("kiln Swiglu (fused)", shape, t_sw, 0, 3.0 * e * 4);
    Row("kiln Silu + Mul (unfused)", shape, t_sw_unfused, 0, 3.0 * e * 4);
    Winner({{"Swiglu", t_sw}, {"Silu + Mul", t_sw_unfused}});
    const double t_swb = timer.Ms(
        [&] { SwigluBackward(g1.get(), g2.get(), a->get(), b->get(), gy->get(), e, nullptr); });
    Row("kiln SwigluBackward (fused)", shape, t_swb, 0, 5.0 * e * 4);
  }
}

// ---- linear_cross_entropy: fused vs Matmul + CrossEntropy ---------------------------------------
void BenchLinearCrossEntropy(Timer& timer, const Gpt& g) {
  const int64_t n = g.Rows() / 2, c = g.c, v = g.v;
  // The op layer's tiling (ops/linear_cross_entropy.cc): vc = min(V, 4096), rb = 2^20 / vc.
  const int64_t vc = std::min<int64_t>(v, 4096);
  const int64_t rb = std::clamp<int64_t>((int64_t{1} << 20) / vc, 1, n);
  std::printf("\nlinear_cross_entropy (N %lld, C %lld, V %lld; tiles %lld x %lld)\n",
              static_cast<long long>(n), static_cast<long long>(c), static_cast<long long>(v),
              static_cast<long long>(rb), static_cast<long long>(vc));
  std::unique_ptr<Buf<float>> h(Random(n * c, -1, 1, 1)), w(Random(v * c, -0.1f, 0.1f, 2));
  std::unique_ptr<Buf<float>> gl(Random(n, 0.5f, 1.5f, 3));
  Buf<float> loss(n), lse(n), work(rb * vc + 4 * rb), gh(n * c), gw(v * c);
  Buf<float> logits(n * v), dlogits(n * v);
  Buf<int64_t> t(n);
  std::vector<int64_t> th(n);
  for (int64_t i = 0; i < n; ++i) th[i] = (i * 7919) % v;
  KILN_CUDA_CHECK(cudaMemcpy(t.get(), th.data(), n * 8, cudaMemcpyHostToDevice));
  const std::string shape = Dims({n, c, v});
  const double f_flops = 2.0 * n * c * v;
  const double t_f = timer.Ms([&] {
    LinearCrossEntropy(loss.get(), lse.get(), work.get(), h->get(), w->get(), t.get(), n, c, v,
                       -100, 0.0f, rb, vc, nullptr);
  });
  const double t_fu = timer.Ms([&] {
    Matmul(logits.get(), h->get(), w->get(), n, v, c, false, true, nullptr);
    CrossEntropy(loss.get(), lse.get(), logits.get(), t.get(), n, v, -100, 0.0f, nullptr);
  });
  Row("kiln LinearCrossEntropy (fused)", shape, t_f, f_flops, 0);
  Row("kiln Matmul + CrossEntropy", shape, t_fu, f_flops, 0);
  Winner({{"fused forward", t_f}, {"unfused forward", t_fu}});
  const double t_b = timer.Ms([&] {
    LinearCrossEntropyBackward(gh.get(), gw.get(), work.get(), h->get(), w->get(), t.get(),
                               lse.get(), gl->get(), n, c, v, -100, 0.0f, rb, vc, nullptr);
  });
  const double t_bu = timer.Ms([&] {
    CrossEntropyBackward(dlogits.get(), logits.get(), t.get(), lse.get(), gl->get(), n, v, -100,
                         0.0f, nullptr);
    Matmul(gh.get(), dlogits.get(), w->get(), n, c, v, false, false, nullptr);
    Matmul(gw.get(), dlogits.get(), h->get(), v, c, n, true, false, nullptr);
  });
  Row("kiln LinearCrossEntropyBackward", shape, t_b, 3 * f_flops, 0, "(recomputes the logits)");
  Row("kiln CE backward + 2 Matmuls", shape, t_bu, 2 * f_flops, 0);
  Winner({{"fused backward", t_b}, {"unfused backward", t_bu}});
}

// ---- versions: every kernel version of an op (cuda/versions.h), side by side ------------------
// Each version runs through the op's launcher after SetKernelVersion and writes its own output
// slot; the slots are then compared bitwise (the versions must agree: the exactness contract).
// The winner of an op is the version with the least total time over its counted (training)
// shapes; rows marked "(info)" (decoding, HS 128) are shown but not counted.
bool SameBitsOnHost(const float* a, const float* b, size_t n) {
  const std::vector<float> ha = ToHost(a, n), hb = ToHost(b, n);
  return std::memcmp(ha.data(), hb.data(), n * sizeof(float)) == 0;
}

struct VersionCase {
  std::string label, shape;
  double flops;
  bool counted;                         // part of the op's total (else informational)
  std::function<void(int)> run;         // the op with the selected version, output into slot v
  std::function<bool(int)> same_as_v1;  // slot v holds slot 1's bits
};

using BufPtr = std::shared_ptr<Buf<float>>;

std::vector<BufPtr> Slots(size_t n) {
  std::vector<BufPtr> v;
  for (int i = 0; i <= cuda_versions::kMaxVersion; ++i)
    v.push_back(std::make_shared<Buf<float>>(n));
  return v;
}

VersionCase AttentionCase(const std::string& label, int64_t b, int64_t nh, int64_t tq, int64_t tk,
                          int64_t hs, bool counted) {
  const size_t nq = b * nh * tq * hs, nk = b * nh * tk * hs, nl = b * nh * tq;
  const BufPtr q(Random(nq, -1, 1, 1)), k(Random(nk, -1, 1, 2)), v(Random(nk, -1, 1, 3));
  const std::vector<BufPtr> out = Slots(nq), lse = Slots(nl);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hs));
  const double flops = tq == tk ? 4.0 * b * nh * tq * tk * hs / 2 : 4.0 * b * nh * tq * tk * hs;
  return {label,
          Dims({b, nh, tq, tk, hs}),
          flops,
          counted,
          [=](int s) {
            Attention(out[s]->get(), lse[s]->get(), q->get(), k->get(), v->get(), nullptr, b, nh,
                      nh, tq, tk, hs, scale, nullptr);
          },
          [=](int s) {
            return SameBitsOnHost(out[s]->get(), out[1]->get(), nq) &&
                   SameBitsOnHost(lse[s]->get(), lse[1]->get(), nl);
          }};
}

// y (M, N) = x (M, K) W (N, K)^T, as Linear and the model's projections run it.
VersionCase MatmulCase(const std::string& label, int64_t m, int64_t n, int64_t k) {
  const BufPtr x(Random(m * k, -1, 1, 1)), w(Random(n * k, -1, 1, 2));
  const std::vector<BufPtr> y = Slots(m * n);
  return {label,
          Dims({m, n, k}),
          2.0 * m * n * k,
          true,
          [=](int s) { Matmul(y[s]->get(), x->get(), w->get(), m, n, k, false, true, nullptr); },
          [=](int s) { return SameBitsOnHost(y[s]->get(), y[1]->get(), m * n); }};
}

// Times every case under every version of `op`: a row per (case, version) with the V1 / Vn time
// ratio and whether the bits equal V1's, then the op's winner. Returns the winning version.
int BenchOpVersions(Timer& timer, cuda_versions::KernelOp op,
                    const std::vector<VersionCase>& cases) {
  const int nv = cuda_versions::kMaxVersion;
  const std::string name = cuda_versions::KernelOpName(op);
  std::vector<double> total(nv + 1, 0.0);
  for (const VersionCase& c : cases) {
    std::vector<double> ms(nv + 1);
    for (int v = 1; v <= nv; ++v) {
      cuda_versions::SetKernelVersion(op, v);
      ms[v] = timer.Ms([&] { c.run(v); });
      if (c.counted) total[v] += ms[v];
    }
    for (int v = 1; v <= nv; ++v) {
      std::string note = c.counted ? "" : "(info) ";
      if (v > 1) {
        char buf[96];
        std::snprintf(buf, sizeof(buf), "V1 / V%d time %.2fx, %s", v, ms[1] / ms[v],
                      c.same_as_v1(v) ? "bits equal to V1" : "BITS DIFFER FROM V1");
        note += buf;
      }
      Row(name + " V" + std::to_string(v) + " " + c.label, c.shape, ms[v], c.flops, 0, note);
    }
  }
  int best = 1;
  for (int v = 2; v <= nv; ++v) best = total[v] < total[best] ? v : best;
  std::string line = "  -> " + name + " winner: v" + std::to_string(best) + " (counted shapes:";
  for (int v = 1; v <= nv; ++v) {
    char buf[48];
    std::snprintf(buf, sizeof(buf), "%s V%d %.3f ms", v > 1 ? "," : "", v, total[v]);
    line += buf;
  }
  std::printf("%s)\n", line.c_str());
  return best;
}

void BenchVersions(Timer& timer, const Gpt& g) {
  using cuda_versions::KernelOp;
  std::printf("\nversions (every kernel version of an op through its launcher; cuda/versions.h)\n");
  const cuda_versions::KernelVersions before = cuda_versions::CurrentKernelVersions();
  cuda_versions::KernelVersions winners;
  const int64_t hs = g.c / g.nh, m = g.Rows(), c = g.c;
  winners.version[static_cast<int>(KernelOp::kAttention)] =
      BenchOpVersions(timer, KernelOp::kAttention,
                      {AttentionCase("forward", g.b, g.nh, g.t, g.t, hs, true),
                       AttentionCase("decode 1 token", g.b, g.nh, 1, g.t, hs, false),
                       AttentionCase("forward HS 128", g.b, g.nh / 2, g.t, g.t, 2 * hs, false)});
  winners.version[static_cast<int>(KernelOp::kMatmul)] =
      BenchOpVersions(timer, KernelOp::kMatmul,
                      {MatmulCase("qkv", m, 3 * c, c), MatmulCase("attn proj", m, c, c),
                       MatmulCase("fc", m, 4 * c, c), MatmulCase("fc proj", m, c, 4 * c)});
  std::printf(
      "\n  KILN_CUDA_KERNELS=%s selects every winner (defaults stay V1 until a GPU run"
      " picks)\n",
      cuda_versions::FormatKernelVersions(winners).c_str());
  for (int i = 0; i < cuda_versions::kNumKernelOps; ++i) {
    cuda_versions::SetKernelVersion(static_cast<KernelOp>(i), before.version[i]);
  }
}

int Main(int argc, char** argv) {
  int repeat = 10;
  bool quick = false;
  std::string only;
  for (int a = 1; a < argc; ++a) {
    const std::string s = argv[a];
    if (s.rfind("--repeat=", 0) == 0) {
      repeat = std::atoi(s.c_str() + 9);
      KILN_CHECK(repeat > 0) << "cuda_bench: --repeat must be a positive integer, got '" << s
                             << "'";
    } else if (s == "--quick") {
      quick = true;
    } else if (s.rfind("--only=", 0) == 0) {
      only = s.substr(7);
    } else {
      KILN_CHECK(false) << "cuda_bench: unknown argument '" << s
                        << "' (flags: --repeat=N, --quick, --only=SUBSTRING)";
    }
  }
  setenv("NVIDIA_TF32_OVERRIDE", "0", 1);  // before the CUDA libraries start: no TF32 anywhere
  std::string why;
  if (UsableDevices(&why) == 0) {
    std::printf("cuda_bench: no usable CUDA GPU (%s): nothing measured\n", why.c_str());
    return 0;
  }
  cudaDeviceProp prop;
  KILN_CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  std::printf(
      "cuda_bench: %s, sm_%d%d, %d SMs, L2 %d MB, driver %d, runtime %d; median of %d "
      "calls after an L2 flush each\n",
      prop.name, prop.major, prop.minor, prop.multiProcessorCount, prop.l2CacheSize >> 20, driver,
      runtime, repeat);
  const Gpt g{quick ? 2 : 8, 1024, 768, 12, 50257};
  Timer timer(repeat);
  const std::pair<const char*, void (*)(Timer&, const Gpt&)> groups[] = {
      {"matmul", BenchMatmul},
      {"attention", BenchAttention},
      {"versions", BenchVersions},
      {"rows", BenchRows},
      {"linear_cross_entropy", BenchLinearCrossEntropy}};
  for (const auto& [name, fn] : groups) {
    if (!only.empty() && std::string(name).find(only) == std::string::npos) continue;
    fn(timer, g);
  }
  return 0;
}

}  // namespace
}  // namespace kiln::cuda

int main(int argc, char** argv) {
  try {
    return kiln::cuda::Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
}
