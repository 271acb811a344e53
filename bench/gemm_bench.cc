// Side-by-side benchmark of kiln's CPU Sgemm (cpu/gemm.h) against OpenBLAS cblas_sgemm, the
// yardstick: per shape, thread count and kiln ISA path, GFLOP/s of both and their ratio, GB/s on
// the decoding shapes (weights streamed per call), and kiln with pre-packed weights (PackB +
// SgemmPackedB) on the decoding shapes. Shapes: squares (no transposes); the "linear" layers of
// GPT-2 124M (width 768) and model (a) (width 256) as kiln's Linear calls them (B = weight stored
// n x k, trans_b); decoding M = 1..16 with the same weights. Ends with min/median ratios per path.
//
//   gemm_bench [--quick] [--isa=avx2|avx512|generic] [--threads=1,2] [--rounds=N]
//              [--openblas-core=SkylakeX] [--legacy]
//
// It re-executes itself once with OPENBLAS_VERBOSE=2 (OpenBLAS then prints "Core: <kernel>" to
// stderr when it loads) and, with --openblas-core, OPENBLAS_CORETYPE=<name>: Debian's OpenBLAS is
// built DYNAMIC_ARCH and picks its Haswell (AVX2) kernels on AMD AVX-512 machines; SkylakeX forces
// its AVX-512 kernels, the fairer yardstick for kiln's avx512 path.
#include <cblas.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/thread_pool.h"
#include "cpu/gemm.h"
#include "cpu/isa.h"

extern "C" {
void openblas_set_num_threads(int);
char* openblas_get_corename(void);
char* openblas_get_config(void);
}

namespace {

struct Shape {
  int64_t m, n, k;
  bool tb;           // B stored n x k (a Linear weight)
  const char* kind;  // square | linear | decode
  const char* what;  // which layer
};

// Runs fn until ~min_seconds have passed (after one warm-up call); returns seconds per call.
template <typename Fn>
double TimeIt(Fn fn, double min_seconds) {
  using Clock = std::chrono::steady_clock;
  fn();
  int64_t reps = 0;
  const auto start = Clock::now();
  double elapsed = 0;
  do {
    fn();
    ++reps;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < min_seconds);
  return elapsed / reps;
}

std::string CpuVectorFlags() {
  FILE* f = std::fopen("/proc/cpuinfo", "r");
  if (f == nullptr) return "?";
  char line[8192];
  std::string out;
  while (std::fgets(line, sizeof(line), f) != nullptr) {
    if (std::strncmp(line, "flags", 5) != 0) continue;
    for (char* tok = std::strtok(line + 5, " \t\n:"); tok; tok = std::strtok(nullptr, " \t\n:")) {
      if (std::strncmp(tok, "avx", 3) == 0 || std::strcmp(tok, "fma") == 0 ||
          std::strncmp(tok, "amx", 3) == 0) {
        out += std::string(tok) + " ";
      }
    }
    break;
  }
  std::fclose(f);
  return out;
}

std::string LoadAverage() {
  FILE* f = std::fopen("/proc/loadavg", "r");
  if (f == nullptr) return "?";
  char buf[128] = {};
  const bool ok = std::fgets(buf, sizeof(buf), f) != nullptr;
  std::fclose(f);
  std::string s = ok ? buf : "?";
  const size_t third = s.find(' ', s.find(' ', s.find(' ') + 1) + 1);
  return third == std::string::npos ? s : s.substr(0, third);
}

// Weights of the two models' layers: (n, k, name) with the Linear weight n x k.
struct Layer {
  int64_t n, k;
  const char* name;
};
const Layer kGpt2[] = {{2304, 768, "gpt2 qkv"},
                       {768, 768, "gpt2 proj"},
                       {3072, 768, "gpt2 fc"},
                       {768, 3072, "gpt2 fc2"}};
const Layer kModelA[] = {{768, 256, "a qkv"},
                         {256, 256, "a proj"},
                         {1024, 256, "a fc"},
                         {256, 1024, "a fc2"}};

std::vector<Shape> MakeShapes(bool quick, bool legacy) {
  std::vector<Shape> s;
  if (legacy) {  // the shape list of the bench before the tuning pass (no transposes)
    for (int64_t x : {512, 1024}) s.push_back({x, x, x, false, "square", ""});
    s.push_back({1024, 768, 768, false, "linear", ""});
    s.push_back({1024, 3072, 768, false, "linear", ""});
    for (int64_t m : {1, 8}) s.push_back({m, 3072, 768, false, "decode", ""});
    return s;
  }
  if (quick) {
    s.push_back({512, 512, 512, false, "square", ""});
    s.push_back({2048, 768, 768, true, "linear", "gpt2 proj"});
    s.push_back({2048, 3072, 768, true, "linear", "gpt2 fc"});
    s.push_back({2048, 256, 256, true, "linear", "a proj"});
    s.push_back({2048, 256, 1024, true, "linear", "a fc2"});
    for (int64_t m : {1, 4, 16}) {
      s.push_back({m, 3072, 768, true, "decode", "gpt2 fc"});
      s.push_back({m, 768, 256, true, "decode", "a qkv"});
    }
    return s;
  }
  for (int64_t x : {512, 1024, 2048}) s.push_back({x, x, x, false, "square", ""});
  for (const Layer& l : kGpt2) s.push_back({2048, l.n, l.k, true, "linear", l.name});
  for (const Layer& l : kModelA) s.push_back({2048, l.n, l.k, true, "linear", l.name});
  for (const Layer* set : {kGpt2, kModelA}) {
    for (int i = 0; i < 4; ++i) {
      for (int64_t m : {1, 2, 4, 8, 16}) s.push_back({m, set[i].n, set[i].k, true, "decode", set[i].name});
    }
  }
  s.push_back({1, 50257, 768, true, "decode", "gpt2 lm_head"});
  return s;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, legacy = false;
  std::string only_isa, core;
  std::vector<int> thread_counts = {1, 2};
  int rounds = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--legacy") == 0) {
      legacy = true;
    } else if (std::strncmp(argv[i], "--isa=", 6) == 0) {
      only_isa = argv[i] + 6;
    } else if (std::strncmp(argv[i], "--openblas-core=", 16) == 0) {
      core = argv[i] + 16;
    } else if (std::strncmp(argv[i], "--rounds=", 9) == 0) {
      rounds = std::atoi(argv[i] + 9);
    } else if (std::strncmp(argv[i], "--threads=", 10) == 0) {
      thread_counts.clear();
      for (const char* p = argv[i] + 10; *p;) {
        thread_counts.push_back(std::atoi(p));
        while (*p && *p != ',') ++p;
        if (*p == ',') ++p;
      }
    } else {
      std::fprintf(stderr,
                   "usage: gemm_bench [--quick] [--legacy] [--isa=generic|avx2|avx512] "
                   "[--threads=1,2] [--rounds=N] [--openblas-core=NAME]\n");
      return 2;
    }
  }
  // OpenBLAS reads OPENBLAS_VERBOSE / OPENBLAS_CORETYPE when it loads, before main: re-exec.
  const char* env_core = std::getenv("OPENBLAS_CORETYPE");
  const bool core_ok = core.empty() || (env_core != nullptr && core == env_core);
  if (std::getenv("OPENBLAS_VERBOSE") == nullptr || !core_ok) {
    setenv("OPENBLAS_VERBOSE", "2", 1);
    if (!core.empty()) setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
    std::fflush(stdout);
    execv("/proc/self/exe", argv);
    std::perror("gemm_bench: re-exec with OPENBLAS_VERBOSE=2 failed, going on");
  }
  if (rounds <= 0) rounds = quick ? 1 : 2;
  const double min_seconds = quick ? 0.1 : 0.15;
  const std::vector<Shape> shapes = MakeShapes(quick, legacy);

  std::printf("OpenBLAS core: %s (%s); OPENBLAS_CORETYPE=%s\n", openblas_get_corename(),
              openblas_get_config(), env_core ? env_core : "(unset)");
  std::printf("CPU vector extensions: %s\n", CpuVectorFlags().c_str());
  const kiln::cpu::CacheSizes& cs = kiln::cpu::GemmCacheSizes();
  std::printf("caches kiln read (%s): L1d %ld KiB, L2 %ld KiB, L3 %ld KiB\n", cs.source,
              (long)(cs.l1d >> 10), (long)(cs.l2 >> 10), (long)(cs.l3 >> 10));
  std::vector<kiln::cpu::Isa> isas;
  for (auto isa : kiln::cpu::AvailableIsas()) {
    if (!only_isa.empty() && only_isa != kiln::cpu::IsaName(isa)) continue;
    if (only_isa.empty() && isa == kiln::cpu::Isa::kGeneric) continue;  // scalar libm fma
    isas.push_back(isa);
    const kiln::cpu::GemmBlocking b = kiln::cpu::SgemmBlocking(isa);
    std::printf("kiln %-7s sgemm blocking: MR x NR %d x %d, KC %ld, MC %ld, NC %ld\n",
                kiln::cpu::IsaName(isa), b.mr, b.nr, (long)b.kc, (long)b.mc, (long)b.nc);
  }
  std::printf("load average at start: %s; best of %d round(s), each >= %.2f s\n",
              LoadAverage().c_str(), rounds, min_seconds);
  std::printf("\n%-6s %-12s %5s %6s %5s %2s %3s %-6s %8s %8s %8s %6s %6s %7s %7s\n", "kind", "layer",
              "M", "N", "K", "tb", "thr", "isa", "kiln", "packed", "oblas", "ratio", "pk/ob",
              "kiln", "oblas");
  std::printf("%-6s %-12s %5s %6s %5s %2s %3s %-6s %8s %8s %8s %6s %6s %7s %7s\n", "", "", "", "",
              "", "", "", "", "GFLOP/s", "GFLOP/s", "GFLOP/s", "", "", "GB/s", "GB/s");

  // ratios[isa/threads][kind] -> list
  std::map<std::string, std::map<std::string, std::vector<double>>> ratios;
  std::mt19937 gen(1);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (const Shape& s : shapes) {
    std::vector<float> a(s.m * s.k), b(s.k * s.n), c(s.m * s.n);
    for (auto& x : a) x = dist(gen);
    for (auto& x : b) x = dist(gen);
    const double flops = 2.0 * s.m * s.n * s.k;
    const double bytes = 4.0 * (s.n * s.k + s.m * s.k + s.m * s.n);
    const bool decode = std::strcmp(s.kind, "decode") == 0;
    const int64_t ldb = s.tb ? s.k : s.n;
    std::vector<kiln::cpu::PackedB> packed;
    for (auto isa : isas) {
      kiln::cpu::SetIsa(isa);
      packed.push_back(decode ? kiln::cpu::PackB(b.data(), ldb, s.tb, s.k, s.n)
                              : kiln::cpu::PackedB());
    }
    for (int threads : thread_counts) {
      double t_blas = 1e30;
      std::vector<double> t_kiln(isas.size(), 1e30), t_pack(isas.size(), 1e30);
      for (int r = 0; r < rounds; ++r) {
        openblas_set_num_threads(threads);
        t_blas = std::min(t_blas, TimeIt(
                                      [&] {
                                        cblas_sgemm(CblasRowMajor, CblasNoTrans,
                                                    s.tb ? CblasTrans : CblasNoTrans, s.m, s.n,
                                                    s.k, 1.f, a.data(), s.k, b.data(), ldb, 0.f,
                                                    c.data(), s.n);
                                      },
                                      min_seconds));
        // OpenBLAS's threads keep spinning for a while after a call and would steal the cores
        // from kiln's pool: let them go idle first.
        if (threads > 1) std::this_thread::sleep_for(std::chrono::milliseconds(200));
        kiln::SetNumThreads(threads);
        for (size_t i = 0; i < isas.size(); ++i) {
          kiln::cpu::SetIsa(isas[i]);
          const kiln::cpu::SgemmParams p{s.m,      s.n, s.k,  a.data(), s.k, false,
                                         b.data(), ldb, s.tb, c.data(), s.n, false};
          t_kiln[i] = std::min(t_kiln[i], TimeIt([&] { kiln::cpu::Sgemm(p); }, min_seconds));
          if (decode) {
            t_pack[i] = std::min(t_pack[i], TimeIt(
                                                [&] {
                                                  kiln::cpu::SgemmPackedB(s.m, a.data(), s.k,
                                                                          false, packed[i],
                                                                          c.data(), s.n, false);
                                                },
                                                min_seconds));
          }
        }
      }
      const double blas_gf = flops / t_blas * 1e-9;
      for (size_t i = 0; i < isas.size(); ++i) {
        const double gf = flops / t_kiln[i] * 1e-9;
        const std::string key =
            std::string(kiln::cpu::IsaName(isas[i])) + " thr " + std::to_string(threads);
        if (decode) {
          const double pgf = flops / t_pack[i] * 1e-9;
          const double best_t = std::min(t_kiln[i], t_pack[i]);
          std::printf("%-6s %-12s %5ld %6ld %5ld %2d %3d %-6s %8.1f %8.1f %8.1f %6.2f %6.2f %7.1f %7.1f\n",
                      s.kind, s.what, (long)s.m, (long)s.n, (long)s.k, s.tb, threads,
                      kiln::cpu::IsaName(isas[i]), gf, pgf, blas_gf, gf / blas_gf, pgf / blas_gf,
                      bytes / best_t * 1e-9, bytes / t_blas * 1e-9);
          ratios[key]["decode"].push_back(gf / blas_gf);
          ratios[key]["decode packed"].push_back(pgf / blas_gf);
        } else {
          std::printf("%-6s %-12s %5ld %6ld %5ld %2d %3d %-6s %8.1f %8s %8.1f %6.2f\n", s.kind,
                      s.what, (long)s.m, (long)s.n, (long)s.k, s.tb, threads,
                      kiln::cpu::IsaName(isas[i]), gf, "-", blas_gf, gf / blas_gf);
          ratios[key]["large"].push_back(gf / blas_gf);
        }
        std::fflush(stdout);
      }
      if (threads > 1) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  std::printf("\nsummary (ratio kiln/OpenBLAS %s, min / median):\n", openblas_get_corename());
  for (const auto& [key, kinds] : ratios) {
    std::printf("  %-12s", key.c_str());
    for (const char* kind : {"large", "decode", "decode packed"}) {
      auto it = kinds.find(kind);
      if (it == kinds.end()) continue;
      std::printf("  %s %.2f / %.2f", kind, *std::min_element(it->second.begin(), it->second.end()),
                  Median(it->second));
    }
    std::printf("\n");
  }
  std::printf("load average at end: %s\n", LoadAverage().c_str());
  return 0;
}
