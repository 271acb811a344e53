// `kiln tokenizer`: train a byte-level BPE on a corpus, and encode / decode files with any
// tokenizer kiln knows ("byte", "gpt2", or a saved tokenizer JSON), ids as one JSON array.
#include <chrono>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "base/file.h"
#include "base/json.h"
#include "data/bpe.h"
#include "tools/run_util.h"

namespace kiln::tools {
namespace {

// The one positional input file.
absl::StatusOr<std::string> OneInput(const FlagSet& flags) {
  if (flags.positional().size() != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("expected one input file, got ", flags.positional().size()));
  }
  return flags.positional()[0];
}

// Writes to `out`, or to stdout when it is empty.
absl::Status Emit(const std::string& out, const std::string& text) {
  if (!out.empty()) return WriteFileAtomic(out, text);
  if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0) {
    return absl::DataLossError("stdout: write failed");
  }
  return absl::OkStatus();
}

int RunTrain(const std::vector<std::string>& args) {
  std::string corpus, out;
  int64_t vocab_size = 0, min_pair_count = 2;
  FlagSet flags("tokenizer train",
                "Trains a byte-level BPE (GPT-2 pre-tokenization, kiln's chat specials after the "
                "vocabulary): kiln tokenizer train --corpus FILE --vocab-size N -o tok.json");
  flags.String("corpus", &corpus, "UTF-8 text to train on");
  flags.Int("vocab_size", &vocab_size, "tokens in all: 256 bytes + merges + 6 specials");
  flags.Int("min_pair_count", &min_pair_count, "stop when the best pair occurs less often");
  flags.String("out", &out, "tokenizer JSON to write (also -o)");
  if (int rc = ParseOrExit(flags, ExpandShort(args)); rc >= 0) return rc;
  if (corpus.empty()) return Fail(absl::InvalidArgumentError("--corpus: required"));
  if (out.empty()) return Fail(absl::InvalidArgumentError("--out (-o): required"));
  if (!flags.WasSet("vocab_size"))
    return Fail(absl::InvalidArgumentError("--vocab-size: required"));
  if (vocab_size <= 0 || vocab_size > (1 << 24)) {
    return Fail(absl::InvalidArgumentError(absl::StrCat(
        "--vocab-size: expected at most 16777216 and at least 262, got ", vocab_size)));
  }
  auto text = ReadFile(corpus);
  if (!text.ok()) return Fail(text.status());
  data::BpeTrainOptions o;
  o.vocab_size = static_cast<int32_t>(vocab_size);
  o.min_pair_count = min_pair_count;
  auto start = std::chrono::steady_clock::now();
  auto tok = data::TrainBpe(*text, o);
  if (!tok.ok()) {
    return Fail(absl::InvalidArgumentError(absl::StrCat("--vocab-size: ", tok.status().message())));
  }
  if (auto s = (*tok)->Save(out); !s.ok()) return Fail(s);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "trained BPE on %zu bytes in %.2f s: %d tokens (%zu merges%s) -> %s\n", text->size(), secs,
      (*tok)->vocab_size(), (*tok)->merges().size(),
      (*tok)->vocab_size() < vocab_size ? ", stopped early: no pair occurs often enough" : "",
      out.c_str());
  return kExitOk;
}

int RunEncode(const std::vector<std::string>& args) {
  std::string spec = "gpt2", out;
  FlagSet flags("tokenizer encode",
                "Prints the ids of a file's text as a JSON array: kiln tokenizer encode "
                "--tokenizer gpt2 FILE");
  flags.String("tokenizer", &spec, "byte, gpt2, or a tokenizer JSON file");
  flags.String("out", &out, "write the ids here instead of stdout (also -o)");
  if (int rc = ParseOrExit(flags, ExpandShort(args)); rc >= 0) return rc;
  auto input = OneInput(flags);
  if (!input.ok()) return Fail(input.status());
  auto tok = data::ResolveTokenizer(spec);
  if (!tok.ok()) return Fail(tok.status());
  auto text = ReadFile(*input);
  if (!text.ok()) return Fail(text.status());
  Json ids = (*tok)->Encode(*text);
  if (auto s = Emit(out, ids.dump() + "\n"); !s.ok()) return Fail(s);
  return kExitOk;
}

int RunDecode(const std::vector<std::string>& args) {
  std::string spec = "gpt2", out;
  FlagSet flags("tokenizer decode",
                "Writes the text of a JSON array of ids: kiln tokenizer decode --tokenizer gpt2 "
                "ids.json");
  flags.String("tokenizer", &spec, "byte, gpt2, or a tokenizer JSON file");
  flags.String("out", &out, "write the text here instead of stdout (also -o)");
  if (int rc = ParseOrExit(flags, ExpandShort(args)); rc >= 0) return rc;
  auto input = OneInput(flags);
  if (!input.ok()) return Fail(input.status());
  auto tok = data::ResolveTokenizer(spec);
  if (!tok.ok()) return Fail(tok.status());
  auto j = ReadJsonFile(*input);
  if (!j.ok()) return Fail(j.status());
  if (!j->is_array()) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat(*input, ": expected a JSON array of token ids, got ", j->type_name())));
  }
  std::vector<int32_t> ids;
  ids.reserve(j->size());
  for (size_t i = 0; i < j->size(); ++i) {
    const Json& v = (*j)[i];
    if (!v.is_number_integer() || v.get<int64_t>() < 0 ||
        v.get<int64_t>() >= (*tok)->vocab_size()) {
      return Fail(absl::InvalidArgumentError(
          absl::StrCat(*input, ": [", i, "]: expected a token id in [0, ", (*tok)->vocab_size(),
                       "), got ", v.dump().substr(0, 40))));
    }
    ids.push_back(v.get<int32_t>());
  }
  if (auto s = Emit(out, (*tok)->Decode(ids)); !s.ok()) return Fail(s);
  return kExitOk;
}

}  // namespace

int RunTokenizer(const std::vector<std::string>& args) {
  const char* usage =
      "usage: kiln tokenizer <train|encode|decode> [flags]   (kiln tokenizer <sub> --help)\n";
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::printf("%s", usage);
    return args.empty() ? kExitUsage : kExitOk;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "train") return RunTrain(rest);
  if (args[0] == "encode") return RunEncode(rest);
  if (args[0] == "decode") return RunDecode(rest);
  std::fprintf(stderr, "kiln tokenizer: unknown subcommand '%s'\n%s", args[0].c_str(), usage);
  return kExitUsage;
}

}  // namespace kiln::tools
