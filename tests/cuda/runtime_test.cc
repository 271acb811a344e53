// The cuda-sim device through the op layer: Tensor::To, device propagation of ops and backward
// formulas, one-line errors (mixed devices, missing kernels, unknown devices), operands the
// launchers cannot take as they are (strided, broadcast, transposed, i32 indices), and the
// batch-invariance properties, bitwise, of the handwritten matmul and attention through the
// interpreter.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "autograd/api.h"
#include "cuda/backend.h"
#include "ops/api.h"
#include "tensor/device_memory.h"
#include "tensor/tensor.h"

namespace kiln {
namespace {

const Device kSim{Device::kCudaSim, 0};

bool SameBits(const Tensor& a, const Tensor& b) {
  const auto x = a.ToVector<float>(), y = b.ToVector<float>();
  return x.size() == y.size() && std::memcmp(x.data(), y.data(), x.size() * sizeof(float)) == 0;
}

// Max |a - b| relative to max(|b|, floor).
double RelDiff(const Tensor& a, const Tensor& b, double floor = 1e-3) {
  const auto x = a.ToVector<double>(), y = b.ToVector<double>();
  EXPECT_EQ(x.size(), y.size());
  double m = 0;
  for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
    m = std::max(m, std::abs(x[i] - y[i]) / std::max(std::abs(y[i]), floor));
  }
  return m;
}

std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(CudaSimRuntime, ToCopiesAndKeepsValues) {
  Tensor x = Randn({3, 5}, 1);
  Tensor s = x.To(kSim);
  EXPECT_EQ(s.device(), kSim);
  EXPECT_NE(s.storage().get(), x.storage().get());
  EXPECT_TRUE(SameBits(s, x));
  EXPECT_TRUE(s.To(kSim).SameAs(s));  // same device: the tensor itself
  // A transposed view becomes a contiguous copy with the view's values.
  Tensor t = ops::Transpose(x, 0, 1).To(kSim);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_TRUE(SameBits(t, ops::Contiguous(ops::Transpose(x, 0, 1))));
  EXPECT_TRUE(SameBits(t.To(Device::CPU()), ops::Transpose(x, 0, 1)));
  EXPECT_EQ(Zeros({2}, DType::kF32, kSim).device(), kSim);
  EXPECT_EQ(FromVector(std::vector<int32_t>{1, 2}, {2}, DType::kI32, kSim).device(), kSim);
}

TEST(CudaSimRuntime, OpsAndBackwardStayOnTheDevice) {
  // Broadcast, strided and transposed operands are materialized by the copy kernel.
  Tensor a = Randn({4, 6}, 2), b = Randn({6}, 3), w = Randn({5, 6}, 4);
  Tensor as = a.To(kSim), bs = b.To(kSim), ws = w.To(kSim);
  as.set_requires_grad(true);
  bs.set_requires_grad(true);
  ws.set_requires_grad(true);
  Tensor y = Sum(Mul(Gelu(Add(as, bs)), Narrow(Matmul(as, ws, false, true), 1, 0, 1)));
  EXPECT_EQ(y.device(), kSim);
  Backward(y);
  for (const Tensor& t : {as, bs, ws}) {
    ASSERT_TRUE(t.grad().defined());
    EXPECT_EQ(t.grad().device(), kSim);
  }
  Tensor ac = a, bc = b, wc = w;
  ac.set_requires_grad(true);
  bc.set_requires_grad(true);
  wc.set_requires_grad(true);
  Tensor yc = Sum(Mul(Gelu(Add(ac, bc)), Narrow(Matmul(ac, wc, false, true), 1, 0, 1)));
  Backward(yc);
  EXPECT_LT(RelDiff(y, yc), 1e-5);
  EXPECT_LT(RelDiff(as.grad(), ac.grad()), 1e-5);
  EXPECT_LT(RelDiff(bs.grad(), bc.grad()), 1e-5);
  EXPECT_LT(RelDiff(ws.grad(), wc.grad()), 1e-5);
}

TEST(CudaSimRuntime, IndexOpsTakeI32) {
  Tensor w = Randn({7, 4}, 5);
  Tensor ids = FromVector(std::vector<int32_t>{3, 0, 6, 3}, {4});
  Tensor e = ops::Embedding(w.To(kSim), ids.To(kSim));
  EXPECT_TRUE(SameBits(e, ops::Embedding(w, ids)));
  Tensor logits = Randn({4, 7}, 6);
  Tensor ce = ops::CrossEntropy(logits.To(kSim), ids.To(kSim), -100, 0.0)[0];
  EXPECT_LT(RelDiff(ce, ops::CrossEntropy(logits, ids, -100, 0.0)[0]), 1e-5);
  Tensor i64 = ops::Cast(ids.To(kSim), DType::kI64);
  EXPECT_EQ(i64.ToVector<int64_t>(), (std::vector<int64_t>{3, 0, 6, 3}));
}

TEST(CudaSimRuntime, ClearErrors) {
  Tensor c = Randn({2, 3}, 7), s = c.To(kSim);
  EXPECT_NE(ErrorOf([&] { ops::Add(c, s); }).find("Add: device mismatch, cpu vs cuda-sim"),
            std::string::npos);
  // f64 has no CUDA kernel: named, not run on the CPU.
  const std::string f64 = ErrorOf([&] { ops::Exp(Randn({2}, 8, 0, DType::kF64, kSim)); });
  EXPECT_NE(f64.find("Exp: no cuda-sim kernel for x of dtype f64"), std::string::npos) << f64;
  EXPECT_FALSE(ParseDevice("gpu").ok());
  EXPECT_NE(std::string(ParseDevice("gpu").status().message()).find("unknown device 'gpu'"),
            std::string::npos);
  EXPECT_EQ(*ParseDevice("cuda-sim"), kSim);
  EXPECT_EQ(ParseDevice("cuda:1")->index, 1);
  // Here (no GPU) a CUDA device is a one-line error, never a crash.
  std::string why;
  if (CudaDeviceCount(&why) == 0) {
    EXPECT_FALSE(UsableDevice("cuda").ok());
    EXPECT_NE(ErrorOf([] { Tensor::Empty({2}, DType::kF32, Device{Device::kCUDA, 0}); }), "");
  }
}

// Every row with a kernel (KERNEL, BACKWARD, UPDATE) has a cuda-sim kernel: nothing would fall
// back or fail with "no cuda-sim kernel" on the model paths.
TEST(CudaSimRuntime, EveryKernelRowHasACudaSimKernel) {
  std::vector<std::string> missing;
#define KILN_ROW_KERNEL(Name) \
  if (cuda_sim::TableKernel(Op::k##Name) == nullptr) missing.push_back(#Name);
#define KILN_ROW_BACKWARD(Name) KILN_ROW_KERNEL(Name)
#define KILN_ROW_UPDATE(Name) KILN_ROW_KERNEL(Name)
#define KILN_ROW_VIEW(Name)
#define KILN_OP(Name, KIND) KILN_ROW_##KIND(Name)
#include "ops/ops.def"
#undef KILN_OP
  EXPECT_TRUE(missing.empty()) << "no cuda-sim kernel: " << ::testing::PrintToString(missing);
  EXPECT_EQ(cuda_sim::TableKernel(Op::kReshape), nullptr);  // a view has no kernel
}

// Matmul through the runtime: a row's bits do not depend on how many rows share the call
// (M = 1 vs the row inside M = k), nor on a transposed weight layout.
TEST(CudaSimRuntime, MatmulIsBatchInvariantBitwise) {
  const int64_t m = 9, k = 70, n = 33;
  Tensor x = Randn({m, k}, 9).To(kSim), w = Randn({n, k}, 10).To(kSim);
  Tensor full = ops::Matmul(x, w, false, true);
  for (int64_t r : {int64_t{0}, int64_t{4}, m - 1}) {
    Tensor one = ops::Matmul(ops::Narrow(x, 0, r, 1), w, false, true);
    EXPECT_TRUE(SameBits(one, ops::Narrow(full, 0, r, 1))) << "row " << r;
    Tensor tail = ops::Matmul(ops::Narrow(x, 0, r, m - r), w, false, true);
    EXPECT_TRUE(SameBits(ops::Narrow(tail, 0, 0, 1), ops::Narrow(full, 0, r, 1))) << "row " << r;
  }
  // Batched 3-D input with a shared weight: the same bits as the 2-D call.
  Tensor x3 = ops::Reshape(x, {3, 3, k});
  EXPECT_TRUE(SameBits(ops::Reshape(ops::Matmul(x3, w, false, true), {m, n}), full));
  // Bitwise the CPU GEMM (one fmaf chain in k order).
  EXPECT_TRUE(SameBits(full, ops::Matmul(x.To(Device::CPU()), w.To(Device::CPU()), false, true)));
}

// Attention through the runtime: each query decoded alone against its KV prefix gives the bits of
// the full causal pass; a batch row gives the bits of the row alone.
TEST(CudaSimRuntime, AttentionDecodeAloneEqualsFullPassBitwise) {
  const int64_t b = 2, nh = 4, nkv = 2, t = 37, hs = 16;
  Tensor q = Randn({b, nh, t, hs}, 11).To(kSim), k = Randn({b, nkv, t, hs}, 12).To(kSim),
         v = Randn({b, nkv, t, hs}, 13).To(kSim);
  Tensor full = ops::Attention(q, k, v, Tensor(), 0)[0];
  for (int64_t i : {int64_t{0}, int64_t{31}, int64_t{32}, t - 1}) {
    Tensor one = ops::Attention(ops::Narrow(q, 2, i, 1), ops::Narrow(k, 2, 0, i + 1),
                                ops::Narrow(v, 2, 0, i + 1), Tensor(), 0)[0];
    EXPECT_TRUE(SameBits(one, ops::Narrow(full, 2, i, 1))) << "query " << i;
  }
  Tensor row1 = ops::Attention(ops::Narrow(q, 0, 1, 1), ops::Narrow(k, 0, 1, 1),
                               ops::Narrow(v, 0, 1, 1), Tensor(), 0)[0];
  EXPECT_TRUE(SameBits(row1, ops::Narrow(full, 0, 1, 1)));
  Tensor cpu = ops::Attention(q.To(Device::CPU()), k.To(Device::CPU()), v.To(Device::CPU()),
                              Tensor(), 0)[0];
  EXPECT_LT(RelDiff(full, cpu, 1e-2), 2e-5);
}

}  // namespace
}  // namespace kiln
