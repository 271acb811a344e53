// Tests of the fused causal attention kernels (cpu/attention.h): forward and backward against a
// naive double-precision reference (materialized scores, masked softmax, analytic gradients), a
// finite-difference check, bitwise equality across ISA paths and thread counts, and batch
// invariance (decode vs full pass, packed document vs alone, batch element vs B=1).
#include "cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "base/check.h"
#include "base/thread_pool.h"
#include "cpu/isa.h"
#include "gtest/gtest.h"

namespace kiln::cpu {
namespace {

struct Case {
  int64_t b = 1, nh = 1, nkv = 1, tq = 1, tk = 1, hs = 1;
  bool bthd = false;          // (B, T, H, HS) layout instead of (B, H, T, HS)
  std::vector<int> doc_lens;  // per batch row the same run lengths (sum = Tk); empty: no doc ids
  std::string Name() const {
    std::string s = "B" + std::to_string(b) + " NH" + std::to_string(nh) + " NKV" +
                    std::to_string(nkv) + " Tq" + std::to_string(tq) + " Tk" + std::to_string(tk) +
                    " HS" + std::to_string(hs) + (bthd ? " bthd" : " bhtd");
    if (!doc_lens.empty()) {
      s += " docs";
      for (int l : doc_lens) s += " " + std::to_string(l);
    }
    return s;
  }
};

// Element strides (sb, sh, st) of a (B, H, T, HS) tensor in the case's layout.
struct Strides {
  int64_t sb, sh, st;
};
Strides MakeStrides(const Case& c, int64_t h, int64_t t) {
  if (c.bthd) return {t * h * c.hs, c.hs, h * c.hs};
  return {h * t * c.hs, t * c.hs, c.hs};
}

template <typename T>
struct Problem {
  Case c;
  Strides qs, ks;  // q / out / dout / dq use qs; k / v / dk / dv use ks
  std::vector<T> q, k, v, dout;
  std::vector<int32_t> doc;  // (B, Tk) or empty
  double scale;
};

template <typename T>
Problem<T> MakeProblem(const Case& c, uint32_t seed) {
  Problem<T> p;
  p.c = c;
  p.qs = MakeStrides(c, c.nh, c.tq);
  p.ks = MakeStrides(c, c.nkv, c.tk);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  // Larger q magnitudes make the softmax peaky enough to exercise the running-max rescale.
  auto fill = [&](std::vector<T>& x, size_t n, double amp) {
    x.resize(n);
    for (auto& e : x) e = static_cast<T>(amp * u(rng));
  };
  fill(p.q, c.b * c.nh * c.tq * c.hs, 2.0);
  fill(p.k, c.b * c.nkv * c.tk * c.hs, 1.5);
  fill(p.v, c.b * c.nkv * c.tk * c.hs, 1.0);
  fill(p.dout, c.b * c.nh * c.tq * c.hs, 1.0);
  if (!c.doc_lens.empty()) {
    for (int64_t b = 0; b < c.b; ++b) {
      int32_t id = 7 * static_cast<int32_t>(b);
      for (int len : c.doc_lens) {
        for (int i = 0; i < len; ++i) p.doc.push_back(id);
        ++id;
      }
    }
    EXPECT_EQ(static_cast<int64_t>(p.doc.size()), c.b * c.tk) << c.Name();
  }
  p.scale = 1.0 / std::sqrt(static_cast<double>(c.hs));
  return p;
}

template <typename T>
struct Result {
  std::vector<T> out, lse, dq, dk, dv;
};

template <typename T>
Result<T> RunKernels(const Problem<T>& p, bool backward = true) {
  const Case& c = p.c;
  Result<T> r;
  r.out.assign(p.q.size(), T(-999));
  r.lse.assign(c.b * c.nh * c.tq, T(-999));
  AttentionParams f;
  f.b = c.b, f.nh = c.nh, f.nkv = c.nkv, f.tq = c.tq, f.tk = c.tk, f.hs = c.hs;
  f.scale = p.scale;
  f.f64 = sizeof(T) == 8;
  f.q = p.q.data(), f.q_sb = p.qs.sb, f.q_sh = p.qs.sh, f.q_st = p.qs.st;
  f.k = p.k.data(), f.k_sb = p.ks.sb, f.k_sh = p.ks.sh, f.k_st = p.ks.st;
  f.v = p.v.data(), f.v_sb = p.ks.sb, f.v_sh = p.ks.sh, f.v_st = p.ks.st;
  f.out = r.out.data(), f.out_sb = p.qs.sb, f.out_sh = p.qs.sh, f.out_st = p.qs.st;
  f.lse = r.lse.data();
  f.doc = p.doc.empty() ? nullptr : p.doc.data();
  f.doc_sb = c.tk;
  AttentionForward(f);
  if (!backward) return r;
  r.dq.assign(p.q.size(), T(-999));
  r.dk.assign(p.k.size(), T(-999));
  r.dv.assign(p.v.size(), T(-999));
  AttentionBackwardParams g;
  g.b = c.b, g.nh = c.nh, g.nkv = c.nkv, g.tq = c.tq, g.tk = c.tk, g.hs = c.hs;
  g.scale = p.scale;
  g.f64 = f.f64;
  g.q = f.q, g.q_sb = f.q_sb, g.q_sh = f.q_sh, g.q_st = f.q_st;
  g.k = f.k, g.k_sb = f.k_sb, g.k_sh = f.k_sh, g.k_st = f.k_st;
  g.v = f.v, g.v_sb = f.v_sb, g.v_sh = f.v_sh, g.v_st = f.v_st;
  g.out = r.out.data(), g.out_sb = f.out_sb, g.out_sh = f.out_sh, g.out_st = f.out_st;
  g.lse = r.lse.data();
  g.dout = p.dout.data(), g.dout_sb = p.qs.sb, g.dout_sh = p.qs.sh, g.dout_st = p.qs.st;
  g.doc = f.doc, g.doc_sb = f.doc_sb;
  g.dq = r.dq.data(), g.dq_sb = p.qs.sb, g.dq_sh = p.qs.sh, g.dq_st = p.qs.st;
  g.dk = r.dk.data(), g.dk_sb = p.ks.sb, g.dk_sh = p.ks.sh, g.dk_st = p.ks.st;
  g.dv = r.dv.data(), g.dv_sb = p.ks.sb, g.dv_sh = p.ks.sh, g.dv_st = p.ks.st;
  AttentionBackward(g);
  return r;
}

// Naive double reference: materialized (Tq x Tk) scores per (b, h), masked softmax, analytic
// gradients. Same layouts as the problem.
template <typename T>
Result<double> Reference(const Problem<T>& p) {
  const Case& c = p.c;
  Result<double> r;
  r.out.assign(p.q.size(), 0.0);
  r.lse.assign(c.b * c.nh * c.tq, 0.0);
  r.dq.assign(p.q.size(), 0.0);
  r.dk.assign(p.k.size(), 0.0);
  r.dv.assign(p.v.size(), 0.0);
  const int64_t off = c.tk - c.tq, group = c.nh / c.nkv;
  auto qa = [&](int64_t b, int64_t h, int64_t t) {
    return b * p.qs.sb + h * p.qs.sh + t * p.qs.st;
  };
  auto ka = [&](int64_t b, int64_t h, int64_t t) {
    return b * p.ks.sb + h * p.ks.sh + t * p.ks.st;
  };
  auto visible = [&](int64_t b, int64_t i, int64_t j) {
    if (j > off + i) return false;
    return p.doc.empty() || p.doc[b * c.tk + j] == p.doc[b * c.tk + off + i];
  };
  std::vector<double> prob(c.tk), dp(c.tk);
  for (int64_t b = 0; b < c.b; ++b) {
    for (int64_t h = 0; h < c.nh; ++h) {
      const int64_t kvh = h / group;
      for (int64_t i = 0; i < c.tq; ++i) {
        double mx = -INFINITY;
        for (int64_t j = 0; j < c.tk; ++j) {
          prob[j] = -INFINITY;
          if (!visible(b, i, j)) continue;
          double s = 0;
          for (int64_t d = 0; d < c.hs; ++d) {
            s += double(p.q[qa(b, h, i) + d]) * double(p.k[ka(b, kvh, j) + d]);
          }
          prob[j] = s * p.scale;
          mx = std::max(mx, prob[j]);
        }
        double sum = 0;
        for (int64_t j = 0; j < c.tk; ++j)
          sum += prob[j] == -INFINITY ? 0.0 : std::exp(prob[j] - mx);
        r.lse[(b * c.nh + h) * c.tq + i] = mx + std::log(sum);
        for (int64_t j = 0; j < c.tk; ++j) {
          prob[j] = prob[j] == -INFINITY ? 0.0 : std::exp(prob[j] - mx) / sum;
        }
        double di = 0;
        for (int64_t d = 0; d < c.hs; ++d) {
          double o = 0;
          for (int64_t j = 0; j < c.tk; ++j) o += prob[j] * double(p.v[ka(b, kvh, j) + d]);
          r.out[qa(b, h, i) + d] = o;
          di += o * double(p.dout[qa(b, h, i) + d]);
        }
        for (int64_t j = 0; j < c.tk; ++j) {
          if (prob[j] == 0.0 && !visible(b, i, j)) continue;
          double dpj = 0;
          for (int64_t d = 0; d < c.hs; ++d) {
            dpj += double(p.dout[qa(b, h, i) + d]) * double(p.v[ka(b, kvh, j) + d]);
          }
          const double ds = prob[j] * (dpj - di);
          for (int64_t d = 0; d < c.hs; ++d) {
            r.dq[qa(b, h, i) + d] += p.scale * ds * double(p.k[ka(b, kvh, j) + d]);
            r.dk[ka(b, kvh, j) + d] += p.scale * ds * double(p.q[qa(b, h, i) + d]);
            r.dv[ka(b, kvh, j) + d] += prob[j] * double(p.dout[qa(b, h, i) + d]);
          }
        }
      }
    }
  }
  return r;
}

template <typename T>
void ExpectNear(const std::vector<T>& got, const std::vector<double>& want, double atol,
                double rtol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  int bad = 0;
  for (size_t x = 0; x < got.size(); ++x) {
    const double err = std::abs(double(got[x]) - want[x]);
    if (!(err <= atol + rtol * std::abs(want[x])) && ++bad <= 3) {
      ADD_FAILURE() << what << " [" << x << "]: got " << double(got[x]) << ", want " << want[x];
    }
  }
  EXPECT_EQ(bad, 0) << what;
}

template <typename T>
bool SameBits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

template <typename T>
void ExpectSameBits(const Result<T>& a, const Result<T>& b, const std::string& what) {
  EXPECT_TRUE(SameBits(a.out, b.out)) << what << ": out";
  EXPECT_TRUE(SameBits(a.lse, b.lse)) << what << ": lse";
  EXPECT_TRUE(SameBits(a.dq, b.dq)) << what << ": dq";
  EXPECT_TRUE(SameBits(a.dk, b.dk)) << what << ": dk";
  EXPECT_TRUE(SameBits(a.dv, b.dv)) << what << ": dv";
}

// Document run lengths summing to t, including length-1 documents where t allows.
std::vector<int> DocLens(int64_t t) {
  std::vector<int> lens;
  const int pattern[] = {1, 3, 1, 70, 2, 1, 5};
  int64_t left = t;
  for (int x = 0; left > 0; x = (x + 1) % 7) {
    int len = static_cast<int>(std::min<int64_t>(pattern[x], left));
    lens.push_back(len);
    left -= len;
  }
  return lens;
}

// The reference sweep: HS x T, each pair with a different mix of B, NH / NKV, KV offset,
// layout and document ids, so every feature meets several shapes.
std::vector<Case> SweepCases() {
  std::vector<Case> cases;
  int n = 0;
  for (int64_t hs : {1, 7, 16, 64}) {
    for (int64_t t : {1, 2, 5, 63, 64, 65, 130}) {
      Case c;
      c.hs = hs;
      c.tk = t;
      c.b = 1 + n % 2;
      const int64_t heads[][2] = {{1, 1}, {2, 2}, {4, 2}, {4, 1}, {3, 3}};
      c.nh = heads[n % 5][0];
      c.nkv = heads[n % 5][1];
      c.tq = (n % 3 == 2 && t > 1) ? t / 2 + 1 : t;  // KV offset every third case
      c.bthd = n % 4 >= 2;
      if (n % 2 == 1) c.doc_lens = DocLens(t);
      cases.push_back(c);
      ++n;
    }
  }
  return cases;
}

TEST(AttentionTest, MatchesReferenceF32) {
  for (const Case& c : SweepCases()) {
    SCOPED_TRACE(c.Name());
    Problem<float> p = MakeProblem<float>(c, 11);
    Result<float> got = RunKernels(p);
    Result<double> want = Reference(p);
    ExpectNear(got.out, want.out, 2e-6, 2e-5, "out");
    ExpectNear(got.lse, want.lse, 2e-6, 2e-5, "lse");
    ExpectNear(got.dq, want.dq, 2e-5, 1e-4, "dq");
    ExpectNear(got.dk, want.dk, 2e-5, 1e-4, "dk");
    ExpectNear(got.dv, want.dv, 2e-5, 1e-4, "dv");
  }
}

TEST(AttentionTest, MatchesReferenceF64) {
  for (const Case& c : SweepCases()) {
    SCOPED_TRACE(c.Name());
    Problem<double> p = MakeProblem<double>(c, 12);
    Result<double> got = RunKernels(p);
    Result<double> want = Reference(p);
    ExpectNear(got.out, want.out, 1e-12, 1e-11, "out");
    ExpectNear(got.lse, want.lse, 1e-12, 1e-11, "lse");
    ExpectNear(got.dq, want.dq, 1e-12, 1e-10, "dq");
    ExpectNear(got.dk, want.dk, 1e-12, 1e-10, "dk");
    ExpectNear(got.dv, want.dv, 1e-12, 1e-10, "dv");
  }
}

// Central differences of sum(out * dout) through the f64 forward kernel; checks the backward
// (and the analytic reference above) independently of any formula.
TEST(AttentionTest, FiniteDifferencesF64) {
  Case c;
  c.b = 1, c.nh = 2, c.nkv = 1, c.tq = 5, c.tk = 6, c.hs = 3, c.bthd = true;
  c.doc_lens = {2, 1, 3};
  Problem<double> p = MakeProblem<double>(c, 13);
  Result<double> g = RunKernels(p);
  auto loss = [&]() {
    Result<double> r = RunKernels(p, /*backward=*/false);
    double s = 0;
    for (size_t x = 0; x < r.out.size(); ++x) s += r.out[x] * p.dout[x];
    return s;
  };
  const double eps = 1e-6;
  auto check = [&](std::vector<double>& x, const std::vector<double>& grad, const char* name) {
    for (size_t e = 0; e < x.size(); ++e) {
      const double keep = x[e];
      x[e] = keep + eps;
      const double hi = loss();
      x[e] = keep - eps;
      const double lo = loss();
      x[e] = keep;
      const double fd = (hi - lo) / (2 * eps);
      EXPECT_NEAR(grad[e], fd, 1e-7 + 1e-6 * std::abs(fd)) << name << "[" << e << "]";
    }
  };
  check(p.q, g.dq, "dq");
  check(p.k, g.dk, "dk");
  check(p.v, g.dv, "dv");
}

// Restores the ISA path and thread count a test changed.
class IsaThreadsGuard {
 public:
  IsaThreadsGuard() : isa_(ActiveIsa()), threads_(kiln::NumThreads()) {}
  ~IsaThreadsGuard() {
    SetIsa(isa_);
    kiln::SetNumThreads(threads_);
  }

 private:
  Isa isa_;
  int threads_;
};

template <typename T>
void CheckBitwiseEverywhere(const Case& c) {
  IsaThreadsGuard guard;
  Problem<T> p = MakeProblem<T>(c, 21);
  SetIsa(Isa::kGeneric);
  kiln::SetNumThreads(1);
  const Result<T> base = RunKernels(p);
  for (Isa isa : AvailableIsas()) {
    for (int threads : {1, 2, 3}) {
      SetIsa(isa);
      kiln::SetNumThreads(threads);
      ExpectSameBits(RunKernels(p), base,
                     c.Name() + " " + IsaName(isa) + " threads=" + std::to_string(threads));
    }
  }
}

std::vector<Case> BitwiseCases() {
  std::vector<Case> cases;
  Case c;
  c.b = 2, c.nh = 4, c.nkv = 2, c.tq = 130, c.tk = 130, c.hs = 64;
  cases.push_back(c);
  c.bthd = true, c.tq = 70, c.hs = 7, c.doc_lens = DocLens(130);
  cases.push_back(c);
  c.bthd = false, c.nh = 3, c.nkv = 1, c.tq = 1, c.tk = 65, c.hs = 33, c.doc_lens = {};
  cases.push_back(c);
  return cases;
}

TEST(AttentionTest, BitwiseAcrossIsasAndThreadsF32) {
  for (const Case& c : BitwiseCases()) CheckBitwiseEverywhere<float>(c);
}

TEST(AttentionTest, BitwiseAcrossIsasAndThreadsF64) {
  for (const Case& c : BitwiseCases()) CheckBitwiseEverywhere<double>(c);
}

// Row i of a (B, H, T, HS) result, copied out (HS values; or one value for lse, hs = 1).
template <typename T>
std::vector<T> Row(const std::vector<T>& x, const Strides& s, int64_t b, int64_t h, int64_t t,
                   int64_t hs) {
  const T* at = x.data() + b * s.sb + h * s.sh + t * s.st;
  return std::vector<T>(at, at + hs);
}

// Query t decoded alone (Tq = 1, keys 0..t) and in blocks of Tq = 3 against a KV prefix gives
// exactly the bits of row t of the full Tq = Tk pass, with and without document ids.
TEST(AttentionTest, DecodeMatchesFullPassBitwise) {
  for (bool docs : {false, true}) {
    for (int64_t hs : {7, 64}) {
      Case full;
      full.b = 1, full.nh = 4, full.nkv = 2, full.tq = 130, full.tk = 130, full.hs = hs;
      full.bthd = true;
      if (docs) full.doc_lens = DocLens(130);
      Problem<float> pf = MakeProblem<float>(full, 31);
      const Result<float> rf = RunKernels(pf, /*backward=*/false);
      for (int64_t tq : {1, 3}) {
        // Every position alone; blocks of 3 at every 5th (keeps the ASan build fast).
        for (int64_t t = tq - 1; t < full.tk; t += (tq == 1 ? 1 : 5)) {
          // Prefix problem: keys 0..t, the last tq queries, same layout with Tk = t + 1.
          Case c = full;
          c.tk = t + 1, c.tq = tq;
          if (docs) {
            c.doc_lens.clear();
            int64_t left = c.tk;
            for (int len : full.doc_lens) {
              if (left == 0) break;
              c.doc_lens.push_back(static_cast<int>(std::min<int64_t>(len, left)));
              left -= c.doc_lens.back();
            }
          }
          Problem<float> p = MakeProblem<float>(c, 0);
          for (int64_t h = 0; h < c.nkv; ++h) {
            for (int64_t j = 0; j < c.tk; ++j) {
              for (int64_t d = 0; d < hs; ++d) {
                p.k[h * p.ks.sh + j * p.ks.st + d] = pf.k[h * pf.ks.sh + j * pf.ks.st + d];
                p.v[h * p.ks.sh + j * p.ks.st + d] = pf.v[h * pf.ks.sh + j * pf.ks.st + d];
              }
            }
          }
          for (int64_t h = 0; h < c.nh; ++h) {
            for (int64_t i = 0; i < tq; ++i) {
              for (int64_t d = 0; d < hs; ++d) {
                p.q[h * p.qs.sh + i * p.qs.st + d] =
                    pf.q[h * pf.qs.sh + (t - tq + 1 + i) * pf.qs.st + d];
              }
            }
          }
          const Result<float> r = RunKernels(p, /*backward=*/false);
          for (int64_t h = 0; h < c.nh; ++h) {
            for (int64_t i = 0; i < tq; ++i) {
              const int64_t tf = t - tq + 1 + i;
              ASSERT_TRUE(SameBits(Row(r.out, p.qs, 0, h, i, hs), Row(rf.out, pf.qs, 0, h, tf, hs)))
                  << "docs=" << docs << " hs=" << hs << " tq=" << tq << " t=" << tf << " h=" << h;
              ASSERT_EQ(r.lse[h * tq + i], rf.lse[h * full.tq + tf]) << "t=" << tf;
            }
          }
        }
      }
    }
  }
}

// A document packed between others (B = 1, doc ids) equals the same document run alone, forward
// and backward (its dK / dV get contributions from its own queries only, in the same order).
TEST(AttentionTest, PackedDocumentMatchesAloneBitwise) {
  const std::vector<int> lens = {1, 70, 1, 3, 65, 2};
  Case packed;
  packed.nh = 4, packed.nkv = 2, packed.hs = 16, packed.tk = 0;
  for (int l : lens) packed.tk += l;
  packed.tq = packed.tk;
  packed.doc_lens = lens;
  Problem<float> pp = MakeProblem<float>(packed, 41);
  const Result<float> rp = RunKernels(pp);
  int64_t start = 0;
  for (int len : lens) {
    Case c = packed;
    c.tq = c.tk = len;
    c.doc_lens.clear();
    Problem<float> p = MakeProblem<float>(c, 0);
    auto copy = [&](std::vector<float>& dst, const Strides& ds, const std::vector<float>& src,
                    const Strides& ss, int64_t nheads) {
      for (int64_t h = 0; h < nheads; ++h) {
        for (int64_t t = 0; t < len; ++t) {
          for (int64_t d = 0; d < c.hs; ++d) {
            dst[h * ds.sh + t * ds.st + d] = src[h * ss.sh + (start + t) * ss.st + d];
          }
        }
      }
    };
    copy(p.q, p.qs, pp.q, pp.qs, c.nh);
    copy(p.dout, p.qs, pp.dout, pp.qs, c.nh);
    copy(p.k, p.ks, pp.k, pp.ks, c.nkv);
    copy(p.v, p.ks, pp.v, pp.ks, c.nkv);
    const Result<float> r = RunKernels(p);
    for (int64_t t = 0; t < len; ++t) {
      for (int64_t h = 0; h < c.nh; ++h) {
        const std::string where = "doc at " + std::to_string(start) + " t=" + std::to_string(t);
        EXPECT_TRUE(
            SameBits(Row(r.out, p.qs, 0, h, t, c.hs), Row(rp.out, pp.qs, 0, h, start + t, c.hs)))
            << where;
        EXPECT_EQ(r.lse[h * len + t], rp.lse[h * packed.tq + start + t]) << where;
        EXPECT_TRUE(
            SameBits(Row(r.dq, p.qs, 0, h, t, c.hs), Row(rp.dq, pp.qs, 0, h, start + t, c.hs)))
            << where;
      }
      for (int64_t h = 0; h < c.nkv; ++h) {
        const std::string where = "doc at " + std::to_string(start) + " key " + std::to_string(t);
        EXPECT_TRUE(
            SameBits(Row(r.dk, p.ks, 0, h, t, c.hs), Row(rp.dk, pp.ks, 0, h, start + t, c.hs)))
            << where;
        EXPECT_TRUE(
            SameBits(Row(r.dv, p.ks, 0, h, t, c.hs), Row(rp.dv, pp.ks, 0, h, start + t, c.hs)))
            << where;
      }
    }
    start += len;
  }
}

// Each element of a B = 3 batch equals the same element run at B = 1, forward and backward.
TEST(AttentionTest, BatchElementMatchesB1Bitwise) {
  Case big;
  big.b = 3, big.nh = 2, big.nkv = 1, big.tq = 40, big.tk = 67, big.hs = 16;
  Problem<float> pb = MakeProblem<float>(big, 51);
  const Result<float> rb = RunKernels(pb);
  for (int64_t b = 0; b < big.b; ++b) {
    Case c = big;
    c.b = 1;
    Problem<float> p = MakeProblem<float>(c, 0);
    auto slice = [&](std::vector<float>& dst, const std::vector<float>& src, int64_t sb) {
      std::copy(src.begin() + b * sb, src.begin() + (b + 1) * sb, dst.begin());
    };
    slice(p.q, pb.q, pb.qs.sb);
    slice(p.dout, pb.dout, pb.qs.sb);
    slice(p.k, pb.k, pb.ks.sb);
    slice(p.v, pb.v, pb.ks.sb);
    Result<float> r = RunKernels(p);
    Result<float> want;
    auto part = [&](const std::vector<float>& x, int64_t sb) {
      return std::vector<float>(x.begin() + b * sb, x.begin() + (b + 1) * sb);
    };
    want.out = part(rb.out, pb.qs.sb);
    want.lse = part(rb.lse, big.nh * big.tq);
    want.dq = part(rb.dq, pb.qs.sb);
    want.dk = part(rb.dk, pb.ks.sb);
    want.dv = part(rb.dv, pb.ks.sb);
    ExpectSameBits(r, want, "batch element " + std::to_string(b));
  }
}

TEST(AttentionTest, RejectsBadParams) {
  std::vector<float> buf(64, 0.f);
  AttentionParams f;
  f.b = 1, f.nh = 3, f.nkv = 2, f.tq = 1, f.tk = 1, f.hs = 4;
  f.q = f.k = f.v = buf.data();
  f.out = buf.data();
  EXPECT_THROW(AttentionForward(f), Error);  // NH % NKV != 0
  f.nkv = 1, f.tq = 2;
  EXPECT_THROW(AttentionForward(f), Error);  // Tq > Tk
  f.tq = 1, f.hs = 0;
  EXPECT_THROW(AttentionForward(f), Error);
  AttentionBackwardParams g;
  g.b = 1, g.nh = 1, g.nkv = 1, g.tq = 1, g.tk = 1, g.hs = 4;
  g.q = g.k = g.v = buf.data();
  EXPECT_THROW(AttentionBackward(g), Error);  // missing out / lse / grads
}

}  // namespace
}  // namespace kiln::cpu
