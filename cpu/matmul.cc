// The Matmul row's kernel: loops over the batch and calls this path's GEMM (cpu/gemm.h) per
// matrix. The op layer (ops/matmul.cc) has made each matrix's last dim contiguous (flipping the
// transpose flag for transposed views) and flattened a shared 2-D weight's batch into M.
#include "cpu/bf16_operands.h"
#include "cpu/gemm.h"
#include "cpu/kernels.h"
#include "cpu/packed_weights.h"

namespace kiln::cpu::KILN_ISA_NS {
namespace {

// in[0] a (..., rows_a, cols_a), in[1] b (..., rows_b, cols_b) or 2-D, out[0] c (..., M, N)
// contiguous; iattr[0] trans_a, iattr[1] trans_b; iattr[2] = number of batch dims of c;
// iattr[3..5] the weight hint of a 2-D b (ops/weight_hint.h): f32 then reads b pre-packed.
template <typename T, typename P>
void Run(const KernelArgs& args, void (*gemm)(const P&)) {
  const KArray& a = args.in[0];
  const KArray& b = args.in[1];
  const KArray& c = args.out[0];
  bool ta = args.iattr[0] != 0, tb = args.iattr[1] != 0;
  int nb = static_cast<int>(args.iattr[2]);
  int64_t m = c.sizes[c.ndim - 2], n = c.sizes[c.ndim - 1];
  int64_t k = ta ? a.sizes[a.ndim - 2] : a.sizes[a.ndim - 1];
  int64_t batch = 1;
  for (int d = 0; d < nb; ++d) batch *= c.sizes[d];
  const PackedB* packed = nullptr;
  if constexpr (sizeof(T) == 4) {
    if (b.ndim == 2) {
      packed = AcquirePackedB(ReadWeightHint(args, 3), static_cast<const float*>(b.data),
                              b.strides[0], tb, k, n);
    }
  }
  for (int64_t bi = 0; bi < batch; ++bi) {
    int64_t off_a = 0, off_b = 0, rem = bi;
    for (int d = nb - 1; d >= 0; --d) {
      int64_t idx = rem % c.sizes[d];
      rem /= c.sizes[d];
      off_a += idx * a.strides[d];
      if (b.ndim > 2) off_b += idx * b.strides[d];
    }
    P p;
    p.m = m;
    p.n = n;
    p.k = k;
    p.a = static_cast<const T*>(a.data) + off_a;
    p.lda = a.strides[a.ndim - 2];
    p.trans_a = ta;
    p.b = static_cast<const T*>(b.data) + off_b;
    p.ldb = b.strides[b.ndim - 2];
    p.trans_b = tb;
    p.c = static_cast<T*>(c.data) + bi * m * n;
    p.ldc = n;
    p.accumulate = false;
    if constexpr (sizeof(T) == 4) {
      if (packed != nullptr) {
        SgemmPackedB(m, p.a, p.lda, ta, *packed, p.c, n, false);
        continue;
      }
    }
    gemm(p);
  }
  ReleasePackedB(packed);
}

}  // namespace

void Matmul(const KernelArgs& args) {
  if (args.out[0].dtype == DType::kF64) {
    Run<double, DgemmParams>(args, &cpu::KILN_ISA_NS::Dgemm);
  } else {
    const Bf16Operands f32(args);  // bf16 a / b widened (cpu/bf16_operands.h)
    Run<float, SgemmParams>(f32.args(), &cpu::KILN_ISA_NS::Sgemm);
  }
}

}  // namespace kiln::cpu::KILN_ISA_NS
