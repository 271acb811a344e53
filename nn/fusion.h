// Which fused paths the nn layers take. All are on by default; KILN_UNFUSE=<list> turns the listed
// ones off (separated by "," or "+": ce, linear, norm, qkv, swiglu, or all), for A/B comparisons
// in one binary (bench/lm_bench). Each fused path's bits are documented in docs/fusion.md: norm, qkv and
// swiglu give the unfused bits; ce gives them for V <= 4096 and float-rounding-close ones above;
// linear moves results by rounding (the bias starts the GEMM's FMA chain).
#pragma once

namespace kiln::nn {

struct Fusion {
  bool ce = true;      // LossSum / Loss: LinearCrossEntropy instead of logits + CrossEntropy
  bool linear = true;  // nn::Linear: the Linear op (bias in the GEMM) instead of Matmul + Add
  bool norm = true;    // Block: AddLayerNorm / AddRmsNorm instead of Add + norm
  bool qkv = true;     // GPT-2 attention: Unbind of q/k/v instead of three Narrows
  bool swiglu = true;  // Llama MLP: Swiglu instead of Silu * up
};

// Read from KILN_UNFUSE at first use; an unknown name is a kiln::Error naming it.
const Fusion& ActiveFusion();
// Replaces the active set (tests and benchmarks; not synchronized with running forwards).
void SetFusion(const Fusion& f);
// Parses a KILN_UNFUSE value (exposed for tests).
Fusion ParseUnfuse(const char* value);

}  // namespace kiln::nn
