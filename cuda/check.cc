// The real CUDA build's error checks (cuda/check.h), against the CUDA runtime (never libcuda).
#include "cuda/check.h"

#include <cuda_runtime.h>

#include <string>

namespace kiln::cuda {

void CheckStatus(int status, const char* what, const char* file, int line) {
  if (status == 0) return;
  const auto e = static_cast<cudaError_t>(status);
  throw Error(std::string(file) + ":" + std::to_string(line) + ": " + what + ": " +
              cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
}

void CheckLaunch(const char* kernel, const char* file, int line) {
  const cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) return;
  throw Error(std::string(file) + ":" + std::to_string(line) + ": launch of kernel '" + kernel +
              "': " + cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
}

int UsableDevices(std::string* why) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    if (why != nullptr) {
      *why = std::string("cudaGetDeviceCount: ") + cudaGetErrorName(e) + " (" +
             std::to_string(static_cast<int>(e)) + "): " + cudaGetErrorString(e);
    }
    cudaGetLastError();  // clear the sticky error
    return 0;
  }
  if (n == 0 && why != nullptr) *why = "cudaGetDeviceCount: no CUDA device";
  return n;
}

}  // namespace kiln::cuda
