// CUDA kernels of the LM head fused with cross-entropy (rows LinearCrossEntropy /
// LinearCrossEntropyBackward), the contract of cpu/linear_cross_entropy.cc: logits = h W^T are
// computed one tile of rb rows x vc vocabulary entries at a time into the caller's workspace and
// never exist as an (N, V) array, nor does their gradient.
//
// Forward, per tile: cuda/matmul.cuh's GEMM writes the tile's logits; one block per row reduces
// its chunk (max, sum of exp, with label smoothing the sum of logits; cuda/reduce.cuh's fixed
// order, the block size of cuda/cross_entropy.cu) and folds it into the row's running state (the
// last 4 rb floats of the workspace) by the online log-sum-exp, in chunk order; the last chunk
// writes loss and lse. With one chunk (V <= vc) this is cuda/cross_entropy.cu's arithmetic on the
// GEMM's logits, so loss and lse are bitwise CrossEntropy(Matmul(h, W^T)) on this backend (tested).
// A row's bits depend on V and vc only, never on rb or N.
// Backward, per tile: the logits are recomputed, turned in place into
// d = g (softmax - ls/V - (1 - ls) onehot) (cuda/cross_entropy.cu's formula), then
// grad_h[rows] += d W_chunk and grad_W[chunk] += d^T h[rows] by the GEMM in accumulate mode, which
// continues each element's fmaf chain over k in order across tiles: both gradients have the bits of
// the unfused GEMMs on the same d, whatever rb and vc (tested), and no atomics are involved.
#include "cuda/kernels.h"
#include "cuda/matmul_v2.cuh"
#include "cuda/reduce.cuh"

namespace kiln::KILN_CUDA_NS {
namespace {

constexpr int kRowThreads = 256;  // cuda/cross_entropy.cu's: the reduction order is its

__device__ __forceinline__ bool Finite(float x) { return x - x == 0.0f; }
__device__ __forceinline__ bool IsNegInf(float x) { return x == x && !Finite(x) && x < 0.0f; }

// Row i of the tile (one block): x = its vc logits; st_* the running state of the row block.
__global__ void LceForwardChunk(float* __restrict__ loss, float* __restrict__ lse_out,
                                float* __restrict__ work, const int64_t* __restrict__ targets,
                                int64_t r0, int64_t rb_max, int64_t c0, int64_t vc, int64_t vc_max,
                                int64_t ignore, float keep, float spread, int smoothing, int last) {
  const int64_t i = blockIdx.x;
  const float* x = work + i * vc;
  float* st_m = work + rb_max * vc_max;
  float* st_s = st_m + rb_max;
  float* st_xt = st_s + rb_max;
  float* st_sx = st_xt + rb_max;
  float mc = MaxOp::Identity();
  for (int64_t j = threadIdx.x; j < vc; j += blockDim.x) mc = MaxOp{}(mc, x[j]);
  mc = BlockReduce(mc, MaxOp{});
  float sc = 0.0f;
  if (Finite(mc)) {  // uniform across the block: every thread has the same mc
    float s = 0.0f;
    for (int64_t j = threadIdx.x; j < vc; j += blockDim.x) s += expf(x[j] - mc);
    sc = BlockReduce(s, SumOp{});
  }
  float sx = 0.0f;
  if (smoothing) {
    for (int64_t j = threadIdx.x; j < vc; j += blockDim.x) sx += x[j];
    sx = BlockReduce(sx, SumOp{});
  }
  if (threadIdx.x != 0) return;
  const int64_t t = targets[r0 + i];
  if (c0 == 0) {
    st_m[i] = mc;
    st_s[i] = sc;
    st_xt[i] = 0.0f;
    st_sx[i] = sx;
  } else {
    const float m = st_m[i];
    if (Finite(mc) && Finite(m)) {
      if (mc > m) {
        st_s[i] = st_s[i] * expf(m - mc) + sc;
        st_m[i] = mc;
      } else {
        st_s[i] = st_s[i] + sc * expf(mc - m);
      }
    } else if (IsNegInf(m)) {
      st_m[i] = mc;  // every earlier logit was -inf: this chunk's state replaces it
      st_s[i] = sc;
    } else if (!IsNegInf(mc)) {
      // +inf or nan on either side: lse becomes it (nan first), as in CrossEntropy.
      if (mc != mc || (m == m && mc > m)) st_m[i] = mc;
    }
    st_sx[i] = st_sx[i] + sx;
  }
  if (t >= c0 && t < c0 + vc) st_xt[i] = x[t - c0];
  if (!last) return;
  const float m = st_m[i];
  const float lse = Finite(m) ? m + logf(st_s[i]) : m;
  lse_out[r0 + i] = lse;
  if (t == ignore) {
    loss[r0 + i] = 0.0f;
    return;
  }
  float l = lse - keep * st_xt[i];
  if (smoothing) l = l - spread * st_sx[i];
  loss[r0 + i] = l;
}

// Row i of the tile: logits -> g_i (softmax - ls/V - (1 - ls) onehot), in place.
__global__ void LceBackwardChunk(float* __restrict__ work, const int64_t* __restrict__ targets,
                                 const float* __restrict__ lse, const float* __restrict__ g,
                                 int64_t r0, int64_t c0, int64_t vc, int64_t ignore, float keep,
                                 float spread, int smoothing) {
  const int64_t i = blockIdx.x;
  float* x = work + i * vc;
  const int64_t t = targets[r0 + i];
  if (t == ignore) {
    for (int64_t j = threadIdx.x; j < vc; j += blockDim.x) x[j] = 0.0f;
    return;
  }
  const float gi = g[r0 + i], l = lse[r0 + i];
  for (int64_t j = threadIdx.x; j < vc; j += blockDim.x) {
    float d = expf(x[j] - l);
    if (smoothing) d = d - spread;
    if (c0 + j == t) d = d - keep;
    x[j] = gi * d;
  }
}

void CheckArgs(const char* what, int64_t n, int64_t c, int64_t v, int64_t rb, int64_t vc) {
  KILN_CHECK(n >= 0 && c >= 0 && v > 0 && rb > 0 && rb <= 0x7fffffff && vc > 0 && vc <= v)
      << "cuda " << what << ": N " << n << ", C " << c << ", V " << v << ", rb " << rb << ", vc "
      << vc << " (V > 0, 0 < rb < 2^31, 0 < vc <= V)";
}

}  // namespace

void LinearCrossEntropy(float* loss, float* lse, float* work, const float* h, const float* w,
                        const int64_t* targets, int64_t n, int64_t c, int64_t v,
                        int64_t ignore_index, float label_smoothing, int64_t rb, int64_t vc,
                        Stream stream) {
  CheckArgs("LinearCrossEntropy", n, c, v, rb, vc);
  const double ls = label_smoothing;
  const float keep = static_cast<float>(1.0 - ls);
  const float spread = static_cast<float>(ls / static_cast<double>(v));
  for (int64_t r0 = 0; r0 < n; r0 += rb) {
    const int64_t rows = n - r0 < rb ? n - r0 : rb;
    for (int64_t c0 = 0; c0 < v; c0 += vc) {
      const int64_t cols = v - c0 < vc ? v - c0 : vc;
      LaunchSelectedGemm("LinearCrossEntropy", work, h + r0 * c, w + c0 * c, nullptr, rows, cols, c,
                         false, true, kInitZero, stream);
      KILN_LAUNCH(LceForwardChunk, dim3(static_cast<unsigned>(rows)), dim3(kRowThreads), 0, stream,
                  loss, lse, work, targets, r0, rb, c0, cols, vc, ignore_index, keep, spread,
                  ls != 0.0 ? 1 : 0, c0 + cols >= v ? 1 : 0);
    }
  }
}

void LinearCrossEntropyBackward(float* grad_h, float* grad_w, float* work, const float* h,
                                const float* w, const int64_t* targets, const float* lse,
                                const float* grad_loss, int64_t n, int64_t c, int64_t v,
                                int64_t ignore_index, float label_smoothing, int64_t rb, int64_t vc,
                                Stream stream) {
  CheckArgs("LinearCrossEntropyBackward", n, c, v, rb, vc);
  const double ls = label_smoothing;
  const float keep = static_cast<float>(1.0 - ls);
  const float spread = static_cast<float>(ls / static_cast<double>(v));
  for (int64_t r0 = 0; r0 < n; r0 += rb) {
    const int64_t rows = n - r0 < rb ? n - r0 : rb;
    for (int64_t c0 = 0; c0 < v; c0 += vc) {
      const int64_t cols = v - c0 < vc ? v - c0 : vc;
      LaunchSelectedGemm("LinearCrossEntropyBackward", work, h + r0 * c, w + c0 * c, nullptr, rows,
                         cols, c, false, true, kInitZero, stream);
      KILN_LAUNCH(LceBackwardChunk, dim3(static_cast<unsigned>(rows)), dim3(kRowThreads), 0, stream,
                  work, targets, lse, grad_loss, r0, c0, cols, ignore_index, keep, spread,
                  ls != 0.0 ? 1 : 0);
      // grad_h[rows] (+)= d (rows x cols) W[chunk] (cols x C): the chain over v continues.
      LaunchSelectedGemm("LinearCrossEntropyBackward", grad_h + r0 * c, work, w + c0 * c, nullptr,
                         rows, c, cols, false, false, c0 > 0 ? kInitAccumulate : kInitZero, stream);
      // grad_W[chunk] (+)= d^T (cols x rows) h[rows] (rows x C): the chain over rows continues.
      LaunchSelectedGemm("LinearCrossEntropyBackward", grad_w + c0 * c, work, h + r0 * c, nullptr,
                         cols, c, rows, true, false, r0 > 0 ? kInitAccumulate : kInitZero, stream);
    }
  }
  if (n == 0) {
    // No tile ran: the gradients are zero (grad_h is empty).
    LaunchSelectedGemm("LinearCrossEntropyBackward", grad_w, w, w, nullptr, v, c, 0, false, true,
                       kInitZero, stream);
  }
}

}  // namespace kiln::KILN_CUDA_NS
