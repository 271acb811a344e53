// Where a tensor's data lives. kCudaSim keeps data in host memory and runs the CUDA kernels through
// the kernel interpreter (the CUDA issue adds both CUDA devices; today only kCPU has kernels).
#pragma once

#include <string>

namespace kiln {

struct Device {
  enum Type { kCPU = 0, kCUDA = 1, kCudaSim = 2 };
  Type type = kCPU;
  int index = 0;

  static Device CPU() { return {kCPU, 0}; }
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  std::string ToString() const;
};

}  // namespace kiln
