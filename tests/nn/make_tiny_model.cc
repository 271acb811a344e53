// Writes a tiny randomly initialized model folder for the `kiln generate` end-to-end test:
// DIR/config.json, DIR/model.safetensors and DIR/kiln_tokenizer.json (the byte tokenizer; the
// model's vocabulary is the tokenizer's 262 ids).
//   make_tiny_model DIR [gpt2|llama]
#include <cstdio>
#include <string>

#include "data/tokenizer.h"
#include "nn/model_io.h"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: make_tiny_model DIR [gpt2|llama]\n");
    return 2;
  }
  const std::string dir = argv[1], family = argc == 3 ? argv[2] : "gpt2";
  if (family != "gpt2" && family != "llama") {
    std::fprintf(stderr, "make_tiny_model: unknown family '%s'\n", family.c_str());
    return 2;
  }
  kiln::data::ByteTokenizer tok;
  const int64_t vocab = tok.vocab_size();
  kiln::nn::GptModel model(family == "gpt2" ? kiln::nn::TinyGpt2Config(vocab, 32, 2, 4, 128)
                                            : kiln::nn::TinyLlamaConfig(vocab, 32, 2, 4, 2, 128));
  model.Init(1);
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
