// Which kernel version runs for an op that has several (docs/cuda.md "Kernel versions"): a
// process-wide choice per op, shared by the nvcc build (kiln::cuda) and the interpreter
// (kiln::cuda_sim). Plain host C++; the launchers of cuda/attention.cu, cuda/matmul.cu,
// cuda/linear.cu and cuda/linear_cross_entropy.cu read it at every call.
//
// The environment variable KILN_CUDA_KERNELS="attention=v2,matmul=v1" is read and parsed at the
// first call (a malformed value is a kiln::Error naming it, at that call and every later one);
// ops it does not name keep their default. SetKernelVersion overrides it (tests, benchmarks).
// Defaults are V1 until bench/cuda_bench on a GPU picks the winners. Every version of an op gives
// the same bits (tested through the interpreter), so the choice is a speed choice only.
#pragma once

#include <string>
#include <string_view>

namespace kiln::cuda_versions {

enum class KernelOp : int { kAttention = 0, kMatmul = 1 };
inline constexpr int kNumKernelOps = 2;
inline constexpr int kMaxVersion = 2;  // every op has versions 1..kMaxVersion

// "attention", "matmul": the names KILN_CUDA_KERNELS uses.
const char* KernelOpName(KernelOp op);

struct KernelVersions {
  int version[kNumKernelOps] = {1, 1};
  int Of(KernelOp op) const { return version[static_cast<int>(op)]; }
};

// Parses the KILN_CUDA_KERNELS syntax: comma-separated `op=vN` (or `op=N`) pairs, each op at most
// once, an empty string meaning the defaults. Throws kiln::Error with one line naming the bad
// part, e.g. "KILN_CUDA_KERNELS: unknown version 'v3' for attention in 'attention=v3' (versions:
// v1, v2)".
KernelVersions ParseKernelVersions(std::string_view spec);

// The version of `op` this process runs now (1 or 2).
int KernelVersion(KernelOp op);
// Sets it for the whole process (tests and benchmarks); version in 1..kMaxVersion.
void SetKernelVersion(KernelOp op, int version);
// The KILN_CUDA_KERNELS value that selects the given versions, e.g. "attention=v2,matmul=v1".
std::string FormatKernelVersions(const KernelVersions& v);
// The versions in effect now.
KernelVersions CurrentKernelVersions();

}  // namespace kiln::cuda_versions
