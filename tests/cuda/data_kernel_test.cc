// The data-movement and small CUDA kernels through the interpreter against the CPU backend:
// Contiguous / Concat (strided copies), Where, Cast f32 <-> bf16 / f16, Gather and its
// deterministic backward along an inner and an outer dim, Dropout (the same Philox mask) — all
// bitwise — and Rope forward and inverse (double sin / cos rounded to float: to an ulp).
// kiln-cuda-covers: Contiguous Concat Where Cast Gather GatherBackward Rope Dropout
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "cuda/kernels.h"
#include "tests/cuda/kernel_test_util.h"

namespace kiln::testing {
namespace {

TEST(CudaData, ContiguousOfATransposeIsBitwiseTheCpus) {
  const int64_t r = 37, c = 45;
  const std::vector<float> x = RandomFloats(r * c, -1.0f, 1.0f, 1);
  // The transpose of x: sizes (c, r), strides (1, c).
  std::vector<float> got(r * c), want(r * c);
  const int64_t sizes[] = {c, r}, src_strides[] = {1, c}, dst_strides[] = {r, 1};
  cuda_sim::StridedCopy(got.data(), dst_strides, x.data(), src_strides, sizes, 2, 4, nullptr);
  RunCpuKernel(Op::kContiguous, {{x.data(), {c, r}, DType::kF32, {1, c}}}, {{want.data(), {c, r}}});
  EXPECT_TRUE(SameBits(got, want));
  EXPECT_EQ(got[1], x[c]);
}

TEST(CudaData, ConcatPieceLandsInItsSlice) {
  const int64_t rows = 9, width = 10, piece = 3, at = 6;
  const std::vector<float> p = RandomFloats(rows * piece, -1.0f, 1.0f, 2);
  std::vector<float> got(rows * width, 5.0f), want(rows * width, 5.0f);
  const int64_t sizes[] = {rows, piece}, src_strides[] = {piece, 1}, dst_strides[] = {width, 1};
  cuda_sim::StridedCopy(got.data() + at, dst_strides, p.data(), src_strides, sizes, 2, 4, nullptr);
  RunCpuKernel(Op::kConcat, {{p.data(), {rows, piece}}},
               {{want.data() + at, {rows, piece}, DType::kF32, {width, 1}}});
  EXPECT_TRUE(SameBits(got, want));
  // Other element sizes move bits unchanged.
  std::vector<uint16_t> h = {1, 2, 3, 4, 5, 6}, hout(6);
  const int64_t hs[] = {2, 3}, hsrc[] = {1, 2}, hdst[] = {3, 1};
  cuda_sim::StridedCopy(hout.data(), hdst, h.data(), hsrc, hs, 2, 2, nullptr);
  EXPECT_EQ(hout, (std::vector<uint16_t>{1, 3, 5, 2, 4, 6}));
}

TEST(CudaData, WhereIsBitwiseTheCpus) {
  const int64_t n = 1001;
  const std::vector<float> a = RandomFloats(n, -1.0f, 1.0f, 3), b = RandomFloats(n, -1.0f, 1.0f, 4);
  std::vector<uint8_t> cond(n);
  for (int64_t i = 0; i < n; ++i) cond[i] = (i * 7) % 3 == 0;
  std::vector<float> got(n), want(n);
  cuda_sim::Where(got.data(), cond.data(), a.data(), b.data(), n, nullptr);
  RunCpuKernel(Op::kWhere, {{cond.data(), {n}, DType::kU8}, {a.data(), {n}}, {b.data(), {n}}},
               {{want.data(), {n}}});
  EXPECT_TRUE(SameBits(got, want));
}

TEST(CudaData, CastToAndFromSixteenBitFloatsIsBitwiseTheCpus) {
  std::vector<float> x = RandomFloats(999, -70000.0f, 70000.0f, 5);
  x[0] = std::numeric_limits<float>::infinity();
  x[1] = 1.00390625f;  // a bf16 tie
  x[2] = 1e-7f;        // an f16 subnormal
  x[3] = -0.0f;
  const int64_t n = static_cast<int64_t>(x.size());
  for (bool bf16 : {true, false}) {
    const DType t = bf16 ? DType::kBF16 : DType::kF16;
    std::vector<uint16_t> got(n), want(n);
    cuda_sim::CastF32To16(got.data(), x.data(), n, bf16, nullptr);
    RunCpuKernel(Op::kCast, {{x.data(), {n}}}, {{want.data(), {n}, t}});
    EXPECT_EQ(got, want) << "bf16=" << bf16;
    std::vector<float> back(n), wback(n);
    cuda_sim::Cast16ToF32(back.data(), want.data(), n, bf16, nullptr);
    RunCpuKernel(Op::kCast, {{want.data(), {n}, t}}, {{wback.data(), {n}}});
    EXPECT_TRUE(SameBits(back, wback)) << "bf16=" << bf16;
  }
}

TEST(CudaData, GatherAndBackwardAreBitwiseTheCpus) {
  // dim 1 of x (R, N) with index (R, K), and dim 0 of x (N, C) with index (K, C).
  const int64_t r = 6, n = 11, k = 17, c = 5;
  for (int dim : {1, 0}) {
    const int64_t outer = dim == 1 ? r : 1, inner = dim == 1 ? 1 : c, len = k;
    const int64_t xrows = dim == 1 ? r : n, xcols = dim == 1 ? n : c;
    const std::vector<float> x = RandomFloats(xrows * xcols, -1.0f, 1.0f, 6);
    const std::vector<float> g = RandomFloats(outer * len * inner, -1.0f, 1.0f, 7);
    std::vector<int64_t> idx(outer * len * inner);
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int64_t>((i * 5 + i / 3) % n);
    const std::vector<int64_t> ishape = dim == 1 ? std::vector<int64_t>{r, k}
                                                 : std::vector<int64_t>{k, c};
    const std::vector<int64_t> xview = dim == 1 ? std::vector<int64_t>{n, 0}
                                                : std::vector<int64_t>{0, 1};
    std::vector<float> got(idx.size()), want(idx.size());
    cuda_sim::Gather(got.data(), x.data(), idx.data(), outer, len, inner, n, nullptr);
    RunCpuKernel(Op::kGather, {{x.data(), ishape, DType::kF32, xview}, {idx.data(), ishape, DType::kI64}},
                 {{want.data(), ishape}}, {dim, dim == 1 ? 1 : c});
    EXPECT_TRUE(SameBits(got, want)) << dim;
    std::vector<float> gx(xrows * xcols, 3.0f), wgx(xrows * xcols);
    cuda_sim::GatherBackward(gx.data(), g.data(), idx.data(), outer, len, inner, n, nullptr);
    RunCpuKernel(Op::kGatherBackward, {{idx.data(), ishape, DType::kI64}, {g.data(), ishape}},
                 {{wgx.data(), {xrows, xcols}}}, {dim});
    EXPECT_TRUE(SameBits(gx, wgx)) << dim;
  }
}

TEST(CudaData, RopeForwardAndInverseMatchCpu) {
  const int64_t b = 2, t = 5, nh = 3, hs = 16;
  const std::vector<float> x = RandomFloats(b * t * nh * hs, -2.0f, 2.0f, 8);
  std::vector<int64_t> pos(b * t);
  for (int64_t i = 0; i < b * t; ++i) pos[i] = (i * 131) % 2048;
  for (bool inverse : {false, true}) {
    std::vector<float> got(x.size()), want(x.size());
    cuda_sim::Rope(got.data(), x.data(), pos.data(), b * t, nh, hs, 10000.0, inverse, nullptr);
    RunCpuKernel(Op::kRope, {{x.data(), {b, t, nh, hs}}, {pos.data(), {b, t}, DType::kI64}},
                 {{want.data(), {b, t, nh, hs}}}, {inverse}, {10000.0});
    EXPECT_TRUE(Near(got, want, 1e-6f)) << inverse;
  }
}

TEST(CudaData, DropoutMaskIsTheCpus) {
  const int64_t n = 3001;
  const std::vector<float> x = RandomFloats(n, -1.0f, 1.0f, 9);
  for (double p : {0.0, 0.1, 0.5, 1.0}) {
    std::vector<float> got(n), want(n);
    const uint64_t seed = 0x1234567890abcdefull, offset = 77;
    cuda_sim::Dropout(got.data(), x.data(), n, seed, offset, p, nullptr);
    RunCpuKernel(Op::kDropout, {{x.data(), {n}}}, {{want.data(), {n}}},
                 {static_cast<int64_t>(seed), static_cast<int64_t>(offset)}, {p});
    EXPECT_TRUE(SameBits(got, want)) << p;
  }
}

}  // namespace
}  // namespace kiln::testing
