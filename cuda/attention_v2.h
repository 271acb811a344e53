// The attention forward's V2 (cuda/attention_v2.cu), called by Attention (cuda/attention.cu) when
// the process-wide choice (cuda/versions.h, op "attention") is 2. Same arguments, same contract
// and the same bits as V1. Included by .cu files only (either build: KILN_CUDA_NS).
#pragma once

#include "cuda/portable.h"

namespace kiln::KILN_CUDA_NS {

void AttentionV2(float* out, float* lse, const float* q, const float* k, const float* v,
                 const int32_t* doc, int64_t b, int64_t nh, int64_t nkv, int64_t tq, int64_t tk,
                 int64_t hs, float scale, Stream stream);

}  // namespace kiln::KILN_CUDA_NS
