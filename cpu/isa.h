// Instruction-set paths of the CPU backend. Every kernel file in cpu/ is compiled once per path
// (namespaces kiln::cpu::isa_generic / isa_avx2 / isa_avx512, see cpu/CMakeLists.txt); the path is
// chosen at run time from CPUID, and KILN_ISA=generic|avx2|avx512 forces one. All paths give the
// same bits (docs/exactness.md), so the choice changes speed only.
#pragma once

#include <string>
#include <vector>

namespace kiln::cpu {

enum class Isa { kGeneric = 0, kAvx2 = 1, kAvx512 = 2 };

const char* IsaName(Isa isa);
// The best path this machine supports.
Isa DetectIsa();
// Paths this machine can run (generic always; avx2 needs AVX2+FMA+F16C; avx512 needs F/BW/DQ/VL).
std::vector<Isa> AvailableIsas();
// The path kernels use now: KILN_ISA if set (an unknown or unsupported value throws kiln::Error),
// else DetectIsa().
Isa ActiveIsa();
// Forces a path (tests and benchmarks); throws kiln::Error if the machine cannot run it.
void SetIsa(Isa isa);

}  // namespace kiln::cpu
