// The op profiler: with KILN_PROFILE=1 in the environment (or SetProfiling(true)), every kernel
// call is timed, and at exit a table goes to stderr: per op, calls, total time, share of all
// kernel time, estimated FLOPs and bytes moved, GFLOP/s and GB/s. So a user sees where a training
// step or a decoding loop spends its time without a separate tool.
//
// FLOP estimates: Matmul 2 M N K per batch entry, Linear 2 N M K; Attention 4 B NH HS x (visible key-query pairs)
// (QK^T and PV), its backward 2.5x that (five matmuls against two); LinearCrossEntropy 2 N C V, its
// backward 6 N C V (the logits recomputed, then two matmuls); every other op one per output
// element (AdamW: 12 per element), labelled as estimates. Bytes: every input and output element
// once (a lower bound on traffic). Timing uses a steady clock around the kernel call; the kernels'
// bits do not change when profiling.
#pragma once

#include <cstdio>

#include "ops/kernel_args.h"
#include "ops/op_enum.h"

namespace kiln::ops {

bool ProfilingEnabled();
void SetProfiling(bool on);
// Adds one kernel call (called by RunKernel when profiling).
void RecordKernel(Op op, const KernelArgs& args, double seconds);
struct OpProfile {
  int64_t calls = 0;
  double seconds = 0, flops = 0, bytes = 0;
};
OpProfile GetOpProfile(Op op);
// Step marks: ResetProfile() clears the counters and starts the clock; each ProfileStep() ends
// one step (a training step, a decoding step). With steps marked, the table gives per-step times
// and each op's share of the step's wall time, plus a row for the time outside kernels (autograd,
// allocation, checks). Without marks, shares are of the total kernel time. No-ops unless
// profiling is on.
void ResetProfile();
void ProfileStep();
// Prints the table (ops sorted by time) and, with reset, clears the counters.
void PrintProfile(std::FILE* out, bool reset = false);

}  // namespace kiln::ops
