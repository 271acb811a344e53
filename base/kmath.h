// kiln's own exp / expm1 / log / tanh / sin / cos, for float and double. Only +, -, *, /, explicit
// fma and bit operations are used, so every instruction-set path (generic, AVX2, AVX-512; the CUDA
// kernels too) and every C library gives the same bits. Everything here has internal linkage
// (anonymous namespace): the per-ISA kernel files each compile their own copy, so no inline
// function built with AVX-512 flags can be picked by the linker for a generic caller.
#pragma once

#include <cmath>
#include <cstdint>

namespace kiln::kmath {
namespace {

template <typename T>
struct Bits;
template <>
struct Bits<float> {
  using U = uint32_t;
  using I = int32_t;
  static constexpr int kMant = 23;
  static constexpr int kBias = 127;
};
template <>
struct Bits<double> {
  using U = uint64_t;
  using I = int64_t;
  static constexpr int kMant = 52;
  static constexpr int kBias = 1023;
};

template <typename T>
inline T Fma(T a, T b, T c) {
  if constexpr (sizeof(T) == 4) {
    return __builtin_fmaf(a, b, c);
  } else {
    return __builtin_fma(a, b, c);
  }
}

// 2^n for n in the normal exponent range.
template <typename T>
inline T Pow2(typename Bits<T>::I n) {
  using U = typename Bits<T>::U;
  U u = static_cast<U>(n + Bits<T>::kBias) << Bits<T>::kMant;
  return __builtin_bit_cast(T, u);
}

template <typename T>
inline bool IsNan(T x) {
  return x != x;
}

// e^r - 1 for |r| <= ln2/2, Taylor polynomial (Horner with fma); degree fits the type.
template <typename T>
inline T Expm1Small(T r) {
  T p;
  if constexpr (sizeof(T) == 4) {
    p = T(1) / T(40320);
    p = Fma(p, r, T(1) / T(5040));
    p = Fma(p, r, T(1) / T(720));
    p = Fma(p, r, T(1) / T(120));
    p = Fma(p, r, T(1) / T(24));
    p = Fma(p, r, T(1) / T(6));
    p = Fma(p, r, T(0.5));
  } else {
    constexpr double kInvFact[] = {1.0 / 2,
                                   1.0 / 6,
                                   1.0 / 24,
                                   1.0 / 120,
                                   1.0 / 720,
                                   1.0 / 5040,
                                   1.0 / 40320,
                                   1.0 / 362880,
                                   1.0 / 3628800,
                                   1.0 / 39916800,
                                   1.0 / 479001600,
                                   1.0 / 6227020800.0,
                                   1.0 / 87178291200.0,
                                   1.0 / 1307674368000.0};
    p = kInvFact[13];
    for (int i = 12; i >= 0; --i) p = Fma(p, r, T(kInvFact[i]));
  }
  // r + r^2 * p
  return Fma(r * r, p, r);
}

// Cody-Waite split of ln 2.
template <typename T>
struct Ln2;
template <>
struct Ln2<float> {
  static constexpr float kHi = 0.693145752f;  // 12 significant bits
  static constexpr float kLo = 1.42860677e-06f;
  static constexpr float kLog2e = 1.44269504f;
  static constexpr float kMax = 88.7228394f;
  static constexpr float kMin = -103.972084f;
};
template <>
struct Ln2<double> {
  static constexpr double kHi = 6.93147180369123816490e-01;
  static constexpr double kLo = 1.90821492927058770002e-10;
  static constexpr double kLog2e = 1.44269504088896338700e+00;
  static constexpr double kMax = 709.782712893383973096;
  static constexpr double kMin = -745.133219101941108420;
};

// x = n ln2 + r, |r| <= ln2/2 (n rounded to nearest).
template <typename T>
inline T Reduce(T x, typename Bits<T>::I* n_out) {
  T nf;
  if constexpr (sizeof(T) == 4) {
    nf = __builtin_rintf(x * Ln2<T>::kLog2e);
  } else {
    nf = __builtin_rint(x * Ln2<T>::kLog2e);
  }
  *n_out = static_cast<typename Bits<T>::I>(nf);
  return Fma(-nf, Ln2<T>::kLo, Fma(-nf, Ln2<T>::kHi, x));
}

template <typename T>
inline T Exp(T x) {
  if (IsNan(x)) return x;
  if (x > Ln2<T>::kMax) return T(INFINITY);
  if (x < Ln2<T>::kMin) return T(0);
  typename Bits<T>::I n;
  T r = Reduce(x, &n);
  T e = Expm1Small(r) + T(1);
  // Split the scaling in two so subnormal results stay exact-ish and n+bias never underflows.
  typename Bits<T>::I n1 = n / 2, n2 = n - n / 2;
  return e * Pow2<T>(n1) * Pow2<T>(n2);
}

template <typename T>
inline T Expm1(T x) {
  constexpr T kHalfLn2 = T(0.34657359027997264);
  if (x >= -kHalfLn2 && x <= kHalfLn2) return Expm1Small(x);
  if (x < T(-40)) return T(-1);
  return Exp(x) - T(1);
}

template <typename T>
inline T Log(T x) {
  using U = typename Bits<T>::U;
  using I = typename Bits<T>::I;
  if (IsNan(x) || x < T(0)) return T(NAN);
  if (x == T(0)) return T(-INFINITY);
  if (x == T(INFINITY)) return x;
  I extra = 0;
  if (x < T(1) && x * Pow2<T>(Bits<T>::kMant) < Pow2<T>(Bits<T>::kMant - Bits<T>::kBias + 1)) {
    // Subnormal: scale into the normal range first.
    x = x * Pow2<T>(Bits<T>::kMant);
    extra = -Bits<T>::kMant;
  }
  U u = __builtin_bit_cast(U, x);
  I e = static_cast<I>((u >> Bits<T>::kMant) & ((U(1) << (sizeof(T) * 8 - 1 - Bits<T>::kMant)) - 1)) -
        Bits<T>::kBias;
  U mant_bits = (u & ((U(1) << Bits<T>::kMant) - 1)) | (static_cast<U>(Bits<T>::kBias) << Bits<T>::kMant);
  T m = __builtin_bit_cast(T, mant_bits);  // [1, 2)
  if (m > T(1.41421356237309504880)) {
    m = m * T(0.5);
    e += 1;
  }
  e += extra;
  T f = m - T(1);
  T s = f / (T(2) + f);
  T z = s * s;
  T p;
  if constexpr (sizeof(T) == 4) {
    p = T(1) / T(11);
    p = Fma(p, z, T(1) / T(9));
    p = Fma(p, z, T(1) / T(7));
    p = Fma(p, z, T(1) / T(5));
    p = Fma(p, z, T(1) / T(3));
  } else {
    p = T(1) / T(23);
    for (int k = 10; k >= 1; --k) p = Fma(p, z, T(1) / T(2 * k + 1));
  }
  // log(m) = 2 s (1 + z p) = f - s (f - z p 2) ... computed as 2s + 2s z p.
  T two_s = T(2) * s;
  T logm = Fma(two_s * z, p, two_s);
  T ef = static_cast<T>(e);
  return Fma(ef, Ln2<T>::kHi, Fma(ef, Ln2<T>::kLo, logm));
}

template <typename T>
inline T Tanh(T x) {
  if (IsNan(x)) return x;
  T a = x < T(0) ? -x : x;
  T t;
  if (a > (sizeof(T) == 4 ? T(9.1) : T(19.1))) {
    t = T(1);
  } else {
    T em = Expm1(T(2) * a);
    t = em / (em + T(2));
  }
  return x < T(0) ? -t : t;
}

template <typename T>
inline T Sigmoid(T x) {
  // 1 / (1 + e^-x), written so neither branch overflows.
  if (x >= T(0)) return T(1) / (T(1) + Exp(-x));
  T e = Exp(x);
  return e / (T(1) + e);
}

// sin and cos on [-pi/4, pi/4].
template <typename T>
inline T SinSmall(T r) {
  T z = r * r;
  T p = T(0);
  constexpr double kC[] = {-1.0 / 6,           1.0 / 120,           -1.0 / 5040,
                           1.0 / 362880,       -1.0 / 39916800,     1.0 / 6227020800.0,
                           -1.0 / 1307674368000.0, 1.0 / 355687428096000.0};
  for (int i = 7; i >= 0; --i) p = Fma(p, z, T(kC[i]));
  return Fma(r * z, p, r);
}
template <typename T>
inline T CosSmall(T r) {
  T z = r * r;
  T p = T(0);
  constexpr double kC[] = {1.0 / 24,          -1.0 / 720,         1.0 / 40320,
                           -1.0 / 3628800,    1.0 / 479001600,    -1.0 / 87178291200.0,
                           1.0 / 20922789888000.0, -1.0 / 6402373705728000.0};
  for (int i = 7; i >= 0; --i) p = Fma(p, z, T(kC[i]));
  return Fma(z * z, p, Fma(z, T(-0.5), T(1)));
}

// Reduces x by multiples of pi/2 (three-part Cody-Waite in double: good for |x| < 2^28).
inline double ReduceHalfPi(double x, int64_t* quadrant) {
  constexpr double kTwoOverPi = 6.36619772367581382433e-01;
  constexpr double kP1 = 1.57079632673412561417e+00;
  constexpr double kP2 = 6.07710050650619224932e-11;
  constexpr double kP3 = 2.02226624879595063154e-21;
  double n = __builtin_rint(x * kTwoOverPi);
  *quadrant = static_cast<int64_t>(n);
  return Fma(-n, kP3, Fma(-n, kP2, Fma(-n, kP1, x)));
}

inline double Sin(double x) {
  int64_t q;
  double r = ReduceHalfPi(x, &q);
  switch (q & 3) {
    case 0: return SinSmall(r);
    case 1: return CosSmall(r);
    case 2: return -SinSmall(r);
    default: return -CosSmall(r);
  }
}
inline double Cos(double x) {
  int64_t q;
  double r = ReduceHalfPi(x, &q);
  switch (q & 3) {
    case 0: return CosSmall(r);
    case 1: return -SinSmall(r);
    case 2: return -CosSmall(r);
    default: return SinSmall(r);
  }
}

// x^y for x > 0 as exp(y log x), in double (used for RoPE frequencies).
inline double PowPositive(double x, double y) { return Exp(y * Log(x)); }

}  // namespace
}  // namespace kiln::kmath
