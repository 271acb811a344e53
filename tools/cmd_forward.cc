// `kiln forward`: runs a model folder (Hugging Face layout: config.json + model.safetensors) on
// given token ids and writes the logits as JSON {"logits": [[...], ...]} (T rows of V floats,
// %.9g so every f32 round-trips), for comparing kiln with other implementations; or, with
// --per-token, the log-probability and loss of every token of a text.
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "autograd/api.h"
#include "base/file.h"
#include "base/json.h"
#include "base/thread_pool.h"
#include "data/tokenizer.h"
#include "nn/model_io.h"
#include "train/train_config.h"
#include "tools/run_util.h"

namespace kiln::tools {
namespace {

absl::Status Emit(const std::string& out, const std::string& text) {
  if (out.empty() || out == "-") {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return absl::OkStatus();
  }
  return WriteFileAtomic(out, text);
}

std::string LogitsJson(const std::vector<float>& logits, int64_t t, int64_t v) {
  std::string s = "{\"logits\": [";
  for (int64_t i = 0; i < t; ++i) {
    s += i ? ",\n[" : "\n[";
    for (int64_t j = 0; j < v; ++j) {
      if (j) s += ", ";
      float x = logits[static_cast<size_t>(i * v + j)];
      // JSON has no NaN / inf; a model that produces them is broken, and null says so.
      s += std::isfinite(x) ? absl::StrFormat("%.9g", x) : std::string("null");
    }
    s += "]";
  }
  s += "]}\n";
  return s;
}

int RunLogits(const nn::GptModel& model, const std::string& ids_flag, const std::string& out) {
  const nn::GptConfig& c = model.config();
  std::vector<int32_t> ids;
  for (absl::string_view part : absl::StrSplit(ids_flag, ',')) {
    int64_t id;
    if (!absl::SimpleAtoi(part, &id)) {
      return Usage(
          absl::StrCat("--ids: expected comma-separated integers, got '", std::string(part), "'"));
    }
    if (id < 0 || id >= c.vocab_size) {
      return Usage(absl::StrCat("--ids: id ", id, " is outside the model's vocabulary [0, ",
                                c.vocab_size, ")"));
    }
    ids.push_back(static_cast<int32_t>(id));
  }
  const int64_t t = static_cast<int64_t>(ids.size());
  if (t > c.max_positions) {
    return Usage(absl::StrCat("--ids: ", t, " ids, the model has ", c.max_positions, " positions"));
  }
  NoGradGuard no_grad;
  Tensor logits = model.Forward({FromVector(ids, {1, t})});
  if (auto s = Emit(out, LogitsJson(logits.ToVector<float>(), t, c.vocab_size)); !s.ok()) {
    return Fail(s);
  }
  if (!out.empty() && out != "-") {
    std::printf("wrote %s: logits %lld x %lld\n", out.c_str(), static_cast<long long>(t),
                static_cast<long long>(c.vocab_size));
  }
  return kExitOk;
}

int RunPerToken(const nn::GptModel& model, const std::string& dir, const std::string& text_path,
                const std::string& tokenizer_flag, const std::string& out) {
  const nn::GptConfig& c = model.config();
  std::unique_ptr<data::Tokenizer> tok;
  const std::string saved = dir + "/kiln_tokenizer.json";
  if (!tokenizer_flag.empty()) {
    auto t = train::ResolveTokenizerSpec(tokenizer_flag);
    if (!t.ok())
      return Fail(
          absl::Status(t.status().code(), absl::StrCat("--tokenizer: ", t.status().message())));
    tok = std::move(*t);
  } else if (std::filesystem::exists(saved)) {
    auto t = data::LoadTokenizer(saved);
    if (!t.ok()) return Fail(t.status());
    tok = std::move(*t);
  } else {
    return Usage(absl::StrCat("--tokenizer: required (", dir, " has no kiln_tokenizer.json)"));
  }
  if (tok->vocab_size() > c.vocab_size) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--tokenizer: its vocabulary (", tok->vocab_size(),
                     ") is larger than the model's (", c.vocab_size, ")")));
  }
  auto text = ReadFile(text_path);
  if (!text.ok()) return Fail(text.status());
  std::vector<int32_t> ids = tok->Encode(*text);
  if (ids.size() < 2) {
    return Fail(absl::InvalidArgumentError(
        absl::StrCat("--text: ", text_path, " has ", ids.size(),
                     " tokens; at least 2 are needed (the first is only context)")));
  }
  // Windows of up to max_positions predictions; each window restarts the context at its first
  // token (so a text longer than the model's positions is scored in independent pieces).
  NoGradGuard no_grad;
  const int64_t n = static_cast<int64_t>(ids.size());
  Json tokens = Json::array();
  double total = 0;
  for (int64_t s = 0; s + 1 < n; s += c.max_positions) {
    const int64_t len = std::min<int64_t>(c.max_positions, n - 1 - s);
    std::vector<int32_t> in(ids.begin() + s, ids.begin() + s + len);
    std::vector<int32_t> tg(ids.begin() + s + 1, ids.begin() + s + 1 + len);
    std::vector<float> lp =
        model.TokenLogprobs({FromVector(in, {1, len})}, FromVector(tg, {1, len})).ToVector<float>();
    for (int64_t i = 0; i < len; ++i) {
      const double l = lp[static_cast<size_t>(i)];
      total -= l;
      tokens.push_back(Json{{"pos", s + i + 1},
                            {"id", tg[static_cast<size_t>(i)]},
                            {"text", tok->Decode({tg[static_cast<size_t>(i)]})},
                            {"logprob", l},
                            {"loss", -l}});
    }
  }
  const int64_t scored = n - 1;
  Json result{{"model", dir},
              {"text", text_path},
              {"tokenizer", tok->type()},
              {"n_tokens", n},
              {"n_scored", scored},
              {"context", c.max_positions},
              {"mean_loss", total / static_cast<double>(scored)},
              {"first_token", Json{{"id", ids[0]}, {"text", tok->Decode({ids[0]})}}},
              {"tokens", tokens}};
  // Byte tokens can be pieces of a UTF-8 character: replace what is not valid UTF-8.
  std::string s = result.dump(1, ' ', false, Json::error_handler_t::replace) + "\n";
  if (auto st = Emit(out, s); !st.ok()) return Fail(st);
  if (!out.empty() && out != "-") {
    std::printf("wrote %s: %lld tokens scored, mean loss %.4f nats/token\n", out.c_str(),
                static_cast<long long>(scored), total / static_cast<double>(scored));
  }
  return kExitOk;
}

}  // namespace

int RunForward(const std::vector<std::string>& args) {
  std::string model_dir, ids, out, text, tokenizer;
  bool per_token = false;
  int64_t threads = 0;
  FlagSet flags("forward",
                "Runs a model folder on token ids and writes its logits as JSON: kiln forward "
                "--model DIR --ids 1,2,3 -o out.json ({\"logits\": [[...]]}, T rows of V). With "
                "--per-token --text FILE: each token's log-probability and loss.");
  flags.String("model", &model_dir, "model folder (config.json + model.safetensors)");
  flags.String("ids", &ids, "comma-separated token ids");
  flags.String("out", &out, "output JSON file (also -o); default: stdout");
  flags.Bool("per_token", &per_token, "score a text: per-token log-probabilities and losses");
  flags.String("text", &text, "--per-token: the text file to score");
  flags.String("tokenizer", &tokenizer,
               "--per-token: byte, gpt2 or a tokenizer JSON (default: the folder's "
               "kiln_tokenizer.json)");
  flags.Int("threads", &threads, "threads (0: all cores)");
  if (int rc = ParseOrExit(flags, ExpandShort(args)); rc >= 0) return rc;
  if (!flags.positional().empty()) {
    return Usage("unexpected argument '" + flags.positional()[0] + "' (flags start with --)");
  }
  if (model_dir.empty()) return Usage("--model: required");
  if (per_token) {
    if (text.empty()) return Usage("--text: required with --per-token");
    if (!ids.empty()) return Usage("--ids: not used with --per-token (give --text)");
  } else {
    if (ids.empty()) return Usage("--ids: required (or --per-token --text FILE)");
    if (!text.empty()) return Usage("--text: needs --per-token");
  }
  if (threads < 0) return Usage(absl::StrCat("--threads: must be >= 0, got ", threads));
  if (threads > 0) kiln::SetNumThreads(static_cast<int>(threads));
  auto model = nn::LoadModel(model_dir);
  if (!model.ok()) return Fail(model.status());
  return per_token ? RunPerToken(**model, model_dir, text, tokenizer, out)
                   : RunLogits(**model, ids, out);
}

}  // namespace kiln::tools
