// Error checks of the real CUDA build (nvcc): every runtime / cuBLAS call goes through
// KILN_CUDA_CHECK and every launch through CheckLaunch, which throw kiln::Error naming the call
// (or kernel) and the CUDA error string. Host code only; the interpreter does not need it.
#pragma once

#include <string>

#include "base/check.h"

namespace kiln::cuda {

// Throws kiln::Error for a non-success `status` (a cudaError_t as int): "<what>: <name>: <text>".
void CheckStatus(int status, const char* what, const char* file, int line);
// After a <<<>>> launch: cudaGetLastError(), reported with the kernel's name.
void CheckLaunch(const char* kernel, const char* file, int line);
// Devices usable by this process, or 0 with `why` set (any non-success of cudaGetDeviceCount,
// e.g. cudaErrorInsufficientDriver where no driver is installed).
int UsableDevices(std::string* why);

}  // namespace kiln::cuda

#define KILN_CUDA_CHECK(call) ::kiln::cuda::CheckStatus(static_cast<int>(call), #call, __FILE__, __LINE__)
