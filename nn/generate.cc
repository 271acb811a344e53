#include "nn/generate.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "autograd/api.h"
#include "base/check.h"
#include "base/kmath.h"
#include "base/rng.h"

namespace kiln::nn {
namespace {

void CheckParams(const GptConfig& c, const std::vector<GenerateRequest>& requests,
                 const SamplingParams& p) {
  KILN_CHECK(std::isfinite(p.temperature) && p.temperature >= 0)
      << "Generate: temperature must be finite and >= 0 (0 = greedy), got " << p.temperature;
  KILN_CHECK(p.top_k >= 0) << "Generate: top_k must be >= 0 (0 = off), got " << p.top_k;
  KILN_CHECK(p.top_p > 0 && p.top_p <= 1)
      << "Generate: top_p must be in (0, 1] (1 = off), got " << p.top_p;
  KILN_CHECK(p.max_new_tokens >= 0)
      << "Generate: max_new_tokens must be >= 0, got " << p.max_new_tokens;
  for (int32_t s : p.stop_tokens) {
    KILN_CHECK(s >= 0 && s < c.vocab_size)
        << "Generate: stop token " << s << " is outside the vocabulary [0, " << c.vocab_size << ")";
  }
  for (size_t i = 0; i < requests.size(); ++i) {
    const auto& prompt = requests[i].prompt;
    KILN_CHECK(!prompt.empty()) << "Generate: request " << i << " has an empty prompt";
    // Compared without the sum, which a huge max_new_tokens would overflow.
    KILN_CHECK(p.max_new_tokens <= c.max_positions - static_cast<int64_t>(prompt.size()))
        << "Generate: request " << i << ": prompt (" << prompt.size()
        << " tokens) + max_new_tokens (" << p.max_new_tokens
        << ") exceeds the model's max_positions (" << c.max_positions << ")";
    for (size_t j = 0; j < prompt.size(); ++j) {
      KILN_CHECK(prompt[j] >= 0 && prompt[j] < c.vocab_size)
          << "Generate: request " << i << ": prompt token " << j << " = " << prompt[j]
          << " is outside the vocabulary [0, " << c.vocab_size << ")";
    }
  }
}

// Token a ranks before token b: higher logit first, the lower id on ties (a total order, so the
// sorted order is one fixed permutation).
struct Ranks {
  const float* l;
  bool operator()(int32_t a, int32_t b) const { return l[a] > l[b] || (l[a] == l[b] && a < b); }
};

}  // namespace

double SampleUniform(uint64_t seed, int64_t t) {
  const Philox4x32 b = Philox(seed, static_cast<uint64_t>(t));
  return UniformDoubleFromBits(b.v[0], b.v[1]);
}

int32_t SampleToken(const float* logits, int64_t vocab, const SamplingParams& p, double u,
                    double* sampling_logprob) {
  // Non-finite logits would make the order and the weights meaningless; a model that gives them is
  // broken, and saying so beats sampling garbage.
  int32_t best = 0;
  for (int32_t j = 0; j < vocab; ++j) {
    KILN_CHECK(std::isfinite(logits[j]))
        << "Generate: logit of token " << j << " is " << logits[j] << " (not finite)";
    if (logits[j] > logits[best]) best = j;  // first max wins: ties go to the lower id
  }
  *sampling_logprob = 0.0;
  if (p.temperature == 0) return best;

  // Candidates: all tokens in id order, or the ranked prefix when top-k / top-p need a rank.
  std::vector<int32_t> idx(static_cast<size_t>(vocab));
  std::iota(idx.begin(), idx.end(), 0);
  const bool top_k = p.top_k > 0 && p.top_k < vocab;
  if (top_k) {
    std::partial_sort(idx.begin(), idx.begin() + p.top_k, idx.end(), Ranks{logits});
    idx.resize(static_cast<size_t>(p.top_k));
  } else if (p.top_p < 1) {
    std::sort(idx.begin(), idx.end(), Ranks{logits});
  }
  // Weights exp((l - l_max) / T) in double with kiln's Exp: the difference of two floats is exact
  // in double, and (l - l_max) / T <= 0 never overflows, whatever the temperature.
  const double lmax = logits[best];
  std::vector<double> cum(idx.size());
  double total = 0;
  for (size_t j = 0; j < idx.size(); ++j) {
    total += kmath::Exp((static_cast<double>(logits[idx[j]]) - lmax) / p.temperature);
    cum[j] = total;
  }
  size_t kept = idx.size();
  if (p.top_p < 1) {
    // Smallest ranked prefix with mass >= top_p (the first token alone if it already has it).
    const double need = p.top_p * total;
    kept = 0;
    while (kept + 1 < cum.size() && cum[kept] < need) ++kept;
    ++kept;
    total = cum[kept - 1];
  }
  // Inverse CDF over the kept tokens in their fixed order: u in (0, 1], so r > 0 and a token of
  // weight 0 is never chosen; cum[kept - 1] == total, so some token always is.
  const double r = u * total;
  size_t c = 0;
  while (c + 1 < kept && cum[c] < r) ++c;
  const int32_t tok = idx[c];
  *sampling_logprob = (static_cast<double>(logits[tok]) - lmax) / p.temperature - kmath::Log(total);
  return tok;
}

std::vector<GenerateResult> Generate(const GptModel& model,
                                     const std::vector<GenerateRequest>& requests,
                                     const SamplingParams& params,
                                     const GenerateCallback& on_step) {
  const GptConfig& c = model.config();
  CheckParams(c, requests, params);
  NoGradGuard no_grad;
  const size_t n = requests.size();
  std::vector<GenerateResult> results(n);
  if (n == 0) return results;
  if (params.max_new_tokens == 0) {
    for (auto& r : results) r.finish_reason = "length";
    return results;
  }
  std::vector<KvCache> caches;
  caches.reserve(n);
  for (const auto& r : requests) {
    caches.push_back(
        KvCache::Make(c, static_cast<int64_t>(r.prompt.size()) + params.max_new_tokens,
                      model.device()));
  }
  std::vector<bool> is_stop(static_cast<size_t>(c.vocab_size), false);
  for (int32_t s : params.stop_tokens) is_stop[static_cast<size_t>(s)] = true;

  // Step 0 (prefill) feeds every prompt, each with its own length; later steps feed each active
  // sample's last token. Rows of `logits` follow `active`.
  std::vector<int64_t> active(n);
  std::iota(active.begin(), active.end(), 0);
  std::vector<int32_t> feed;
  std::vector<int64_t> lengths;
  for (const auto& r : requests) {
    feed.insert(feed.end(), r.prompt.begin(), r.prompt.end());
    lengths.push_back(static_cast<int64_t>(r.prompt.size()));
  }
  std::vector<KvCache*> cache_ptrs;
  std::vector<int32_t> chosen;
  int64_t tokens_so_far = 0;
  for (int64_t step = 0;; ++step) {
    cache_ptrs.clear();
    for (int64_t i : active) cache_ptrs.push_back(&caches[static_cast<size_t>(i)]);
    Tensor logits = model.ForwardCached(feed, lengths, cache_ptrs);
    if (!logits.is_contiguous()) logits = Contiguous(logits);
    const Tensor host_logits = logits.To(Device::CPU());  // sampling runs on the host
    const float* rows = host_logits.data<float>();
    const size_t s_count = active.size();
    chosen.resize(s_count);
    for (size_t s = 0; s < s_count; ++s) {
      const size_t i = static_cast<size_t>(active[s]);
      double slp = 0;
      chosen[s] = SampleToken(rows + s * c.vocab_size, c.vocab_size, params,
                              SampleUniform(requests[i].seed, step), &slp);
      results[i].sampling_logprobs.push_back(static_cast<float>(slp));
    }
    // Log-probs under the raw model with the op TokenLogprobs uses: CrossEntropy is row-wise, so
    // each row's bits equal those of the same row inside a full (B*T, V) pass.
    Tensor ce = CrossEntropy(
        logits, FromVector(chosen, {static_cast<int64_t>(s_count)}, DType::kI32, logits.device()));
    const std::vector<float> losses = ce.ToVector<float>();
    tokens_so_far += static_cast<int64_t>(s_count);
    if (on_step) on_step({step, active, logits, chosen, tokens_so_far});

    std::vector<int64_t> next_active;
    feed.clear();
    lengths.clear();
    for (size_t s = 0; s < s_count; ++s) {
      const size_t i = static_cast<size_t>(active[s]);
      GenerateResult& r = results[i];
      r.tokens.push_back(chosen[s]);
      r.logprobs.push_back(-losses[s]);
      if (is_stop[static_cast<size_t>(chosen[s])]) {
        r.finish_reason = "stop";
      } else if (static_cast<int64_t>(r.tokens.size()) == params.max_new_tokens) {
        r.finish_reason = "length";
      } else {
        next_active.push_back(active[s]);
        feed.push_back(chosen[s]);
        lengths.push_back(1);
      }
    }
    if (next_active.empty()) break;
    active = std::move(next_active);
  }
  return results;
}

}  // namespace kiln::nn
