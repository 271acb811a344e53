// Sampling from a GptModel with one KV cache per sample (docs/generation.md).
//
// Ragged batching: every active sample's new tokens go through one GptModel::ForwardCached call
// per step, back to back, each against its own cache, so a sample's positions and attention key
// chunks never depend on the batch around it. Token t of sample i is drawn with Philox(seed_i, t),
// so sample i's tokens and log-probs are the same bits whatever else is in the batch and whatever
// the batch size.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "nn/gpt.h"

namespace kiln::nn {

struct SamplingParams {
  double temperature = 1.0;  // 0: greedy (argmax, ties to the lower token id)
  int64_t top_k = 0;         // keep the k most likely tokens; 0: off
  double top_p = 1.0;        // keep the smallest most-likely prefix with mass >= top_p; 1: off
  int64_t max_new_tokens = 16;
  std::vector<int32_t> stop_tokens;  // a sample ends after emitting one of these
};

struct GenerateRequest {
  std::vector<int32_t> prompt;  // at least one token
  uint64_t seed = 0;            // token t of this sample draws from Philox(seed, t)
};

struct GenerateResult {
  std::vector<int32_t> tokens;  // new tokens only, including the stop token if one was hit
  std::string finish_reason;    // "stop" or "length"
  // log p(token) under the unmodified model: log_softmax of the raw logits, computed with the
  // same op (CrossEntropy) as GptModel::TokenLogprobs, so bitwise equal to it (what an RL trainer
  // computes for the same sequence).
  std::vector<float> logprobs;
  // log q(token) under the distribution actually sampled from (temperature, top-k, top-p
  // applied; computed in double); 0 for greedy.
  std::vector<float> sampling_logprobs;
};

// What the step callback sees: one ForwardCached call (step 0 is the prefill).
struct GenerateStep {
  int64_t step = 0;              // index of the new token each row chose
  std::vector<int64_t> samples;  // request index of each logits row
  Tensor logits;                 // (rows, V) f32, last-token logits of each row's sample
  std::vector<int32_t> chosen;   // the token each row chose
  int64_t tokens_so_far = 0;     // new tokens over all samples, including this step's
};
using GenerateCallback = std::function<void(const GenerateStep&)>;

// Generates a completion for every request. Checks (kiln::Error): temperature finite and >= 0,
// top_k >= 0, 0 < top_p <= 1, max_new_tokens >= 0, prompts non-empty, every token (prompt and
// stop) in [0, vocab), prompt + max_new_tokens <= config.max_positions.
std::vector<GenerateResult> Generate(const GptModel& model,
                                     const std::vector<GenerateRequest>& requests,
                                     const SamplingParams& params,
                                     const GenerateCallback& on_step = {});

// Picks the next token from one logits row (exposed for tests). `u` is uniform in (0, 1] (unused
// when greedy). Returns the token and writes log q(token) under the sampling distribution.
int32_t SampleToken(const float* logits, int64_t vocab, const SamplingParams& params, double u,
                    double* sampling_logprob);

// The uniform in (0, 1] that token `t` of a sample with this seed uses.
double SampleUniform(uint64_t seed, int64_t t);

}  // namespace kiln::nn
