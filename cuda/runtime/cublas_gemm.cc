// cuBLAS / cuBLASLt GEMMs of the cuda device (cuda/runtime/cublas_gemm.h).
#include "cuda/runtime/cublas_gemm.h"

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <climits>
#include <mutex>
#include <utility>
#include <vector>

#include "base/check.h"
#include "cuda/kernels.h"
#include "cuda/runtime/gemm_plan.h"
#include "tensor/device_memory.h"

namespace kiln::cuda {
namespace {

constexpr size_t kWorkspaceBytes = size_t{32} << 20;  // cuBLAS's advice for Hopper

void BlasCheck(cublasStatus_t s, const char* what) {
  KILN_CHECK(s == CUBLAS_STATUS_SUCCESS) << what << ": " << cublasGetStatusName(s) << ": "
                                         << cublasGetStatusString(s);
}

// A device's handles, made on its first GEMM and never destroyed (as the device allocators).
struct BlasDevice {
  std::mutex mu;  // one GEMM at a time per handle
  cublasHandle_t blas = nullptr;
  cublasLtHandle_t lt = nullptr;
  void* workspace = nullptr;
};

BlasDevice& ForDevice(Device device, CUstream_st* stream) {
  static std::mutex mu;
  static auto* devices = new std::vector<BlasDevice*>();
  std::lock_guard<std::mutex> lock(mu);
  const size_t i = static_cast<size_t>(device.index);
  if (devices->size() <= i) devices->resize(i + 1, nullptr);
  BlasDevice*& d = (*devices)[i];
  if (d == nullptr) {
    // The caller made `device` current (ops::RunKernel -> SetLaunchDevice): handles bind to it.
    auto* made = new BlasDevice();
    made->workspace = DeviceAllocator(device)->Allocate(static_cast<int64_t>(kWorkspaceBytes));
    BlasCheck(cublasCreate(&made->blas), "cublasCreate");
    BlasCheck(cublasSetStream(made->blas, stream), "cublasSetStream");
    // FP32 compute: no TF32 (CUBLAS_TF32_TENSOR_OP_MATH is not set).
    BlasCheck(cublasSetMathMode(made->blas, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
    BlasCheck(cublasSetWorkspace(made->blas, made->workspace, kWorkspaceBytes),
              "cublasSetWorkspace");
    BlasCheck(cublasLtCreate(&made->lt), "cublasLtCreate");
    d = made;
  }
  return *d;
}

int Int(int64_t v, const char* what) {
  KILN_CHECK(v >= 0 && v <= INT_MAX) << "cuBLAS GEMM: " << what << " = " << v
                                     << " does not fit cuBLAS's int";
  return static_cast<int>(v);
}

// Runs `one` on each matrix when B is shared by a batch (stride_b 0), else once.
template <typename F>
void ForEachSharedB(const GemmOperands& g, F one) {
  if (g.shape.batch <= 1 || g.shape.stride_b != 0) return one(g);
  for (int64_t i = 0; i < g.shape.batch; ++i) {
    GemmOperands s = g;
    s.shape.batch = 1;
    s.a = g.a + i * g.shape.stride_a;
    s.c = g.c + i * g.shape.stride_c;
    one(s);
  }
}

// C[i] = bias broadcast over the rows of every matrix (the cublasSgemm path adds the product with
// beta 1), with kiln's strided copy kernel.
void CopyBiasIntoC(const GemmOperands& g, CUstream_st* stream) {
  const GemmShape& s = g.shape;
  const int64_t sizes[3] = {s.batch, s.m, s.n};
  const int64_t dst_strides[3] = {s.stride_c, s.n, 1};
  const int64_t src_strides[3] = {0, 0, 1};
  StridedCopy(g.c, dst_strides, g.bias, src_strides, sizes, 3, sizeof(float), stream);
}

void Sgemm(BlasDevice& d, const GemmOperands& g) {
  const GemmShape& s = g.shape;
  const ColumnMajorGemm p = PlanColumnMajor(s.m, s.n, s.k, s.trans_a, s.trans_b);
  const float one = 1.0f, beta = g.bias != nullptr ? 1.0f : 0.0f;
  const cublasOperation_t t1 = p.trans_first ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t t2 = p.trans_second ? CUBLAS_OP_T : CUBLAS_OP_N;
  if (s.batch == 1) {
    BlasCheck(cublasSgemm(d.blas, t1, t2, Int(p.m, "n"), Int(p.n, "m"), Int(p.k, "k"), &one, g.b,
                          Int(p.ld_first, "ld"), g.a, Int(p.ld_second, "ld"), &beta, g.c,
                          Int(p.ld_c, "ld")),
              "cublasSgemm");
    return;
  }
  BlasCheck(cublasSgemmStridedBatched(d.blas, t1, t2, Int(p.m, "n"), Int(p.n, "m"), Int(p.k, "k"),
                                      &one, g.b, Int(p.ld_first, "ld"), s.stride_b, g.a,
                                      Int(p.ld_second, "ld"), s.stride_a, &beta, g.c,
                                      Int(p.ld_c, "ld"), s.stride_c, Int(s.batch, "batch")),
            "cublasSgemmStridedBatched");
}

// cublasLt descriptors of one call, destroyed at its end.
struct LtCall {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t first = nullptr, second = nullptr, c = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  ~LtCall() {
    if (pref != nullptr) cublasLtMatmulPreferenceDestroy(pref);
    if (c != nullptr) cublasLtMatrixLayoutDestroy(c);
    if (second != nullptr) cublasLtMatrixLayoutDestroy(second);
    if (first != nullptr) cublasLtMatrixLayoutDestroy(first);
    if (op != nullptr) cublasLtMatmulDescDestroy(op);
  }
};

template <typename T>
void SetLayout(cublasLtMatrixLayout_t l, cublasLtMatrixLayoutAttribute_t attr, T value) {
  BlasCheck(cublasLtMatrixLayoutSetAttribute(l, attr, &value, sizeof(value)),
            "cublasLtMatrixLayoutSetAttribute");
}
template <typename T>
void SetDesc(cublasLtMatmulDesc_t d, cublasLtMatmulDescAttributes_t attr, T value) {
  BlasCheck(cublasLtMatmulDescSetAttribute(d, attr, &value, sizeof(value)),
            "cublasLtMatmulDescSetAttribute");
}
template <typename T>
void SetPref(cublasLtMatmulPreference_t p, cublasLtMatmulPreferenceAttributes_t attr, T value) {
  BlasCheck(cublasLtMatmulPreferenceSetAttribute(p, attr, &value, sizeof(value)),
            "cublasLtMatmulPreferenceSetAttribute");
}

// beta 0: D = A B (+ the bias epilogue); beta 1: D = A B + C with C = D (the bias already in it).
void LtMatmul(BlasDevice& d, const GemmOperands& g, CUstream_st* stream, float beta) {
  const GemmShape& s = g.shape;
  const ColumnMajorGemm p = PlanColumnMajor(s.m, s.n, s.k, s.trans_a, s.trans_b);
  LtCall call;
  BlasCheck(cublasLtMatmulDescCreate(&call.op, CUBLAS_COMPUTE_32F, CUDA_R_32F),
            "cublasLtMatmulDescCreate");
  SetDesc(call.op, CUBLASLT_MATMUL_DESC_TRANSA, p.trans_first ? CUBLAS_OP_T : CUBLAS_OP_N);
  SetDesc(call.op, CUBLASLT_MATMUL_DESC_TRANSB, p.trans_second ? CUBLAS_OP_T : CUBLAS_OP_N);
  if (g.bias != nullptr) {  // D = A B + bias (one value per row of the column-major D)
    SetDesc(call.op, CUBLASLT_MATMUL_DESC_EPILOGUE, CUBLASLT_EPILOGUE_BIAS);
    SetDesc(call.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, static_cast<const void*>(g.bias));
    SetDesc(call.op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, CUDA_R_32F);
  }
  auto layout = [](cublasLtMatrixLayout_t* l, int64_t rows, int64_t cols, int64_t ld) {
    BlasCheck(cublasLtMatrixLayoutCreate(l, CUDA_R_32F, static_cast<uint64_t>(rows),
                                         static_cast<uint64_t>(cols), ld),
              "cublasLtMatrixLayoutCreate");
  };
  layout(&call.first, p.first_rows, p.first_cols, p.ld_first);
  layout(&call.second, p.second_rows, p.second_cols, p.ld_second);
  layout(&call.c, p.m, p.n, p.ld_c);
  if (s.batch > 1) {
    const int32_t count = Int(s.batch, "batch");
    const std::pair<cublasLtMatrixLayout_t, int64_t> strided[] = {
        {call.first, s.stride_b}, {call.second, s.stride_a}, {call.c, s.stride_c}};
    for (const auto& [l, stride] : strided) {
      SetLayout(l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT, count);
      SetLayout(l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, stride);
    }
  }
  BlasCheck(cublasLtMatmulPreferenceCreate(&call.pref), "cublasLtMatmulPreferenceCreate");
  SetPref(call.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, uint64_t{kWorkspaceBytes});
  // Tell the heuristic the real alignments (it assumes 256 bytes): views and batch offsets are
  // only element-aligned.
  SetPref(call.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, AddressAlignment(g.b));
  SetPref(call.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, AddressAlignment(g.a));
  SetPref(call.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, AddressAlignment(g.c));
  SetPref(call.pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, AddressAlignment(g.c));
  cublasLtMatmulHeuristicResult_t heuristic = {};
  int found = 0;
  BlasCheck(cublasLtMatmulAlgoGetHeuristic(d.lt, call.op, call.first, call.second, call.c, call.c,
                                           call.pref, 1, &heuristic, &found),
            "cublasLtMatmulAlgoGetHeuristic");
  KILN_CHECK(found > 0) << "cublasLt has no algorithm for the GEMM (m " << s.m << ", n " << s.n
                        << ", k " << s.k << ", batch " << s.batch << ")";
  const float one = 1.0f;
  BlasCheck(cublasLtMatmul(d.lt, call.op, &one, g.b, call.first, g.a, call.second, &beta, g.c,
                           call.c, g.c, call.c, &heuristic.algo, d.workspace, kWorkspaceBytes,
                           stream),
            "cublasLtMatmul");
}

}  // namespace

void CublasGemm(const GemmOperands& g, Device device, CUstream_st* stream) {
  BlasDevice& d = ForDevice(device, stream);
  std::lock_guard<std::mutex> lock(d.mu);
  if (g.bias != nullptr) CopyBiasIntoC(g, stream);
  ForEachSharedB(g, [&](const GemmOperands& one) { Sgemm(d, one); });
}

void CublasLtGemm(const GemmOperands& g, Device device, CUstream_st* stream) {
  BlasDevice& d = ForDevice(device, stream);
  std::lock_guard<std::mutex> lock(d.mu);
  // The bias epilogue wants an aligned bias vector (16 bytes; other code bases fall back below
  // that, e.g. Marian's REQUIRED_BIAS_ALIGNMENT): a bias view that is only element-aligned goes
  // into C first, as cublasSgemm's path does, and the GEMM adds to it.
  GemmOperands h = g;
  float beta = 0.0f;
  if (g.bias != nullptr && AddressAlignment(g.bias) < 16) {
    CopyBiasIntoC(g, stream);
    h.bias = nullptr;
    beta = 1.0f;
  }
  ForEachSharedB(h, [&](const GemmOperands& one) { LtMatmul(d, one, stream, beta); });
}

}  // namespace kiln::cuda
