// Writes a tiny randomly initialized model folder for the end-to-end tests (`kiln generate`,
// `kiln eval`): DIR/config.json, DIR/model.safetensors and DIR/kiln_tokenizer.json (the byte
// tokenizer; the model's vocabulary is the tokenizer's 262 ids).
//   make_tiny_model DIR [gpt2|llama] [max_positions (128)] [init seed (1)] [n_embd (32)] [n_layer (2)]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "data/tokenizer.h"
#include "nn/model_io.h"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 7) {
    std::fprintf(stderr,
                 "usage: make_tiny_model DIR [gpt2|llama] [max_positions] [seed] [n_embd] "
                 "[n_layer]\n");
    return 2;
  }
  const std::string dir = argv[1], family = argc >= 3 ? argv[2] : "gpt2";
  if (family != "gpt2" && family != "llama") {
    std::fprintf(stderr, "make_tiny_model: unknown family '%s'\n", family.c_str());
    return 2;
  }
  auto arg = [&](int i, long fallback) { return argc > i ? std::atol(argv[i]) : fallback; };
  const int64_t positions = arg(3, 128), seed = arg(4, 1), embd = arg(5, 32), layers = arg(6, 2);
  if (positions < 1 || embd < 4 || embd % 4 != 0 || layers < 1) {
    std::fprintf(stderr, "make_tiny_model: bad size arguments\n");
    return 2;
  }
  kiln::data::ByteTokenizer tok;
  const int64_t vocab = tok.vocab_size();
  kiln::nn::GptModel model(family == "gpt2"
                               ? kiln::nn::TinyGpt2Config(vocab, embd, layers, 4, positions)
                               : kiln::nn::TinyLlamaConfig(vocab, embd, layers, 4, 2, positions));
  model.Init(static_cast<uint64_t>(seed));
  if (auto s = kiln::nn::SaveModel(dir, model); !s.ok()) {
    std::fprintf(stderr, "make_tiny_model: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  if (auto s = tok.Save(dir + "/kiln_tokenizer.json"); !s.ok()) {
    std::fprintf(stderr, "make_tiny_model: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  return 0;
}
