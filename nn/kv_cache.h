// A KV cache for one sample (ragged batching: each sample has its own, so its positions and key
// chunks never depend on the batch around it). Keys and values of layer l live in
// (1, NKV, capacity, HS) buffers; the first `length` positions are filled.
#pragma once

#include <cstdint>
#include <vector>

#include "nn/config.h"
#include "tensor/tensor.h"

namespace kiln::nn {

struct KvCache {
  struct Layer {
    Tensor k, v;  // (1, NKV, capacity, HS)
  };
  std::vector<Layer> layers;
  int64_t length = 0;    // tokens cached so far (= the next token's position)
  int64_t capacity = 0;  // tokens the buffers hold

  // Buffers for `capacity` tokens of a model with this config (f32, uninitialized), on `device`
  // (the model's).
  static KvCache Make(const GptConfig& config, int64_t capacity, Device device = Device::CPU());
};

}  // namespace kiln::nn
