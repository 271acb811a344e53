// Writes a tiny randomly initialized model folder for the `kiln generate` end-to-end test:
// DIR/config.json, DIR/model.safetensors and DIR/kiln_tokenizer.json (the byte tokenizer; the
// model's vocabulary is the tokenizer's 262 ids; 128 positions unless POSITIONS is given).
//   make_tiny_model DIR [gpt2|llama] [POSITIONS]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "data/tokenizer.h"
#include "nn/model_io.h"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 4) {
    std::fprintf(stderr, "usage: make_tiny_model DIR [gpt2|llama] [POSITIONS]\n");
    return 2;
  }
  const std::string dir = argv[1], family = argc >= 3 ? argv[2] : "gpt2";
  const int64_t positions = argc == 4 ? std::atoll(argv[3]) : 128;
  if (positions < 2) {
    std::fprintf(stderr, "make_tiny_model: bad POSITIONS '%s'\n", argv[3]);
    return 2;
  }
  if (family != "gpt2" && family != "llama") {
    std::fprintf(stderr, "make_tiny_model: unknown family '%s'\n", family.c_str());
    return 2;
  }
  kiln::data::ByteTokenizer tok;
  const int64_t vocab = tok.vocab_size();
  kiln::nn::GptModel model(family == "gpt2" ? kiln::nn::TinyGpt2Config(vocab, 32, 2, 4, positions)
                                            : kiln::nn::TinyLlamaConfig(vocab, 32, 2, 4, 2, positions));
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
