// Side-by-side benchmark of kiln's CPU Sgemm (cpu/gemm.h) against OpenBLAS cblas_sgemm, the
// yardstick: GFLOP/s of both and their ratio per shape, thread count and kiln ISA path. Row-major,
// no transposes, C overwritten. `--quick` runs a subset; `--isa=avx2` one path only.
#include <cblas.h>

#include <chrono>
#include <cstdio>
#include <cstring>
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
  const char* kind;
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

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  std::string only_isa;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strncmp(argv[i], "--isa=", 6) == 0) {
      only_isa = argv[i] + 6;
    } else {
      std::fprintf(stderr, "usage: gemm_bench [--quick] [--isa=generic|avx2|avx512]\n");
      return 2;
    }
  }
  std::vector<Shape> shapes;
  if (quick) {
    shapes = {{512, 512, 512, "square"},
              {1024, 768, 768, "linear"},
              {1024, 3072, 768, "linear"},
              {1, 3072, 768, "decode"},
              {8, 3072, 768, "decode"}};
  } else {
    for (int64_t s : {256, 512, 1024, 2048}) shapes.push_back({s, s, s, "square"});
    for (int64_t m : {512, 1024, 2048, 4096}) {
      shapes.push_back({m, 768, 768, "linear"});
      shapes.push_back({m, 3072, 768, "linear"});
      shapes.push_back({m, 768, 3072, "linear"});
    }
    for (int64_t n : {3072, 768}) {
      for (int64_t m : {1, 2, 4, 8, 16}) shapes.push_back({m, n, 768, "decode"});
    }
  }
  const double min_seconds = quick ? 0.1 : 0.2;

  std::printf("OpenBLAS core: %s (%s)\n", openblas_get_corename(), openblas_get_config());
  std::printf("CPU vector extensions: %s\n", CpuVectorFlags().c_str());
  std::printf("kiln ISA paths available:");
  for (auto isa : kiln::cpu::AvailableIsas()) std::printf(" %s", kiln::cpu::IsaName(isa));
  std::printf("\n\n%-8s %6s %6s %6s %4s %-8s %10s %10s %7s\n", "kind", "M", "N", "K", "thr", "isa",
              "kiln GF/s", "oblas GF/s", "ratio");

  std::mt19937 gen(1);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (const Shape& s : shapes) {
    std::vector<float> a(s.m * s.k), b(s.k * s.n), c(s.m * s.n);
    for (auto& x : a) x = dist(gen);
    for (auto& x : b) x = dist(gen);
    const double flops = 2.0 * s.m * s.n * s.k;
    // The generic path is a scalar libm-fma loop: time it on small shapes only.
    const bool big = flops > 2.0 * 600 * 600 * 600;
    for (int threads : {1, 2}) {
      openblas_set_num_threads(threads);
      const double t_blas = TimeIt(
          [&] {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, s.m, s.n, s.k, 1.f, a.data(),
                        s.k, b.data(), s.n, 0.f, c.data(), s.n);
          },
          min_seconds);
      const double blas_gf = flops / t_blas * 1e-9;
      // OpenBLAS's pthreads keep spinning for a while after a call and would steal the cores
      // from kiln's OpenMP threads (and libgomp's from OpenBLAS): let each side go idle first.
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      kiln::SetNumThreads(threads);
      for (auto isa : kiln::cpu::AvailableIsas()) {
        if (!only_isa.empty() && only_isa != kiln::cpu::IsaName(isa)) continue;
        if (isa == kiln::cpu::Isa::kGeneric && (big || quick)) continue;
        kiln::cpu::SetIsa(isa);
        const kiln::cpu::SgemmParams p{s.m,      s.n, s.k,   a.data(), s.k, false,
                                       b.data(), s.n, false, c.data(), s.n, false};
        const double t = TimeIt([&] { kiln::cpu::Sgemm(p); }, min_seconds);
        const double gf = flops / t * 1e-9;
        std::printf("%-8s %6ld %6ld %6ld %4d %-8s %10.1f %10.1f %7.2f\n", s.kind, (long)s.m,
                    (long)s.n, (long)s.k, threads, kiln::cpu::IsaName(isa), gf, blas_gf,
                    gf / blas_gf);
        std::fflush(stdout);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  return 0;
}
