#include "train/train_config.h"

#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tensor/device_memory.h"
#include "train/common.h"
#include "train/config_section.h"

namespace kiln::train {

Json OptimToJson(const OptimConfig& optim) {
  return Json{{"name", optim.name},
              {"lr", optim.lr},
              {"betas", {optim.beta1, optim.beta2}},
              {"eps", optim.eps},
              {"weight_decay", optim.weight_decay},
              {"momentum", optim.momentum},
              {"decay_embeddings", optim.decay_embeddings},
              {"schedule", optim.schedule},
              {"warmup_steps", optim.warmup_steps},
              {"warmup_ratio", optim.warmup_ratio},
              {"min_lr", optim.min_lr},
              {"min_ratio", optim.min_ratio},
              {"clip", optim.clip}};
}

absl::Status ReadOptimSection(const Json& j, const std::string& where,
                              const std::map<std::string, std::string>& flag_of,
                              OptimConfig* out) {
  OptimConfig& opt = *out;
  Section o(j, "optim", where, flag_of);
  o.String("name", &opt.name, {"adamw", "sgd"});
  o.Double("lr", &opt.lr, 0, /*min_open=*/true);
  if (const Json* b = o.Get("betas")) {
    if (!b->is_array() || b->size() != 2 || !(*b)[0].is_number() || !(*b)[1].is_number()) {
      return o.Bad("betas", "expected two numbers [beta1, beta2], got " + Short(*b));
    }
    opt.beta1 = (*b)[0].get<double>();
    opt.beta2 = (*b)[1].get<double>();
    for (double beta : {opt.beta1, opt.beta2}) {
      if (!(beta >= 0 && beta < 1)) {
        return o.Bad("betas", "each beta must be in [0, 1), got " + Short(*b));
      }
    }
  }
  o.Double("eps", &opt.eps, 0, /*min_open=*/true);
  o.Double("weight_decay", &opt.weight_decay, 0);
  o.Double("momentum", &opt.momentum, 0, false, 1, /*max_open=*/true);
  o.Bool("decay_embeddings", &opt.decay_embeddings);
  o.String("schedule", &opt.schedule, {"constant", "linear", "cosine"});
  o.Int("warmup_steps", &opt.warmup_steps, 0);
  o.Double("warmup_ratio", &opt.warmup_ratio, 0, false, 1);
  o.Double("min_lr", &opt.min_lr, 0);
  o.Double("min_ratio", &opt.min_ratio, 0, false, 1);
  o.Double("clip", &opt.clip, 0);
  if (auto s = o.Finish(); !s.ok()) return s;
  if (opt.name == "adamw" && opt.momentum != 0) {
    return o.Bad("momentum", "is an sgd setting; adamw uses betas");
  }
  if (opt.warmup_steps > 0 && opt.warmup_ratio > 0) {
    return o.Bad("warmup_ratio", "set warmup_steps or warmup_ratio, not both");
  }
  if (opt.min_lr > 0 && opt.min_ratio > 0) {
    return o.Bad("min_ratio", "set min_lr or min_ratio, not both");
  }
  if (opt.min_lr > opt.lr) {
    return o.Bad("min_lr", absl::StrCat("must be <= lr ", opt.lr, ", got ", opt.min_lr));
  }
  return absl::OkStatus();
}

Json TrainConfig::ToJson() const {
  Json j;
  j["model"] = model;
  j["data"] = {{"text", data.text},
               {"tokens", data.tokens},
               {"tokenizer", data.tokenizer},
               {"seq_len", data.seq_len},
               {"batch_size", data.batch_size},
               {"grad_accum", data.grad_accum},
               {"shuffle", data.shuffle},
               {"seed", data.seed},
               {"val_batches", data.val_batches}};
  j["optim"] = OptimToJson(optim);
  j["run"] = {{"steps", run.steps},
              {"stop_after", run.stop_after},
              {"eval_every", run.eval_every},
              {"save_every", run.save_every},
              {"log_every", run.log_every},
              {"out_dir", run.out_dir},
              {"threads", run.threads},
              {"seed", run.seed},
              {"log_internals", run.log_internals},
              {"device", run.device},
              {"precision", run.precision}};
  return j;
}

absl::StatusOr<TrainConfig> TrainConfig::FromJson(
    const Json& j, const std::string& where, const std::map<std::string, std::string>& flag_of) {
  if (!j.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": expected a JSON object, got ",
                                                   Short(j)));
  }
  for (const auto& [k, v] : j.items()) {
    if (k != "model" && k != "data" && k != "optim" && k != "run") {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": unknown field '", k, "' (known: model, data, optim, run)"));
    }
  }
  TrainConfig c;
  if (j.contains("model")) {
    const Json& m = j.at("model");
    if (!(m.is_object() || (m.is_string() && !m.get<std::string>().empty()))) {
      std::string by;
      if (auto it = flag_of.find("model"); it != flag_of.end()) by = " (set by " + it->second + ")";
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": field 'model'", by,
          ": expected a preset name, a config.json path or a config object, got ", Short(m)));
    }
    c.model = m;
  }

  Section d(j, "data", where, flag_of);
  d.Strings("text", &c.data.text);
  d.Strings("tokens", &c.data.tokens);
  d.String("tokenizer", &c.data.tokenizer);
  d.Int("seq_len", &c.data.seq_len, 1, 1 << 20);
  d.Int("batch_size", &c.data.batch_size, 1, 1 << 20);
  d.Int("grad_accum", &c.data.grad_accum, 1, 1 << 20);
  d.Bool("shuffle", &c.data.shuffle);
  d.Int("seed", &c.data.seed, 0);
  d.Int("val_batches", &c.data.val_batches, 0, 1 << 20);
  if (auto s = d.Finish(); !s.ok()) return s;
  if (c.data.text.empty() == c.data.tokens.empty()) {
    return d.Bad("text", c.data.text.empty()
                             ? "no training data: give text files (data.text, --data) or token "
                               "files (data.tokens, --tokens)"
                             : "give text files or token files, not both");
  }

  if (auto s = ReadOptimSection(j, where, flag_of, &c.optim); !s.ok()) return s;

  Section r(j, "run", where, flag_of);
  r.Int("steps", &c.run.steps, 1);
  r.Int("stop_after", &c.run.stop_after, 0);
  r.Int("eval_every", &c.run.eval_every, 0);
  r.Int("save_every", &c.run.save_every, 0);
  r.Int("log_every", &c.run.log_every, 1);
  r.String("out_dir", &c.run.out_dir);
  r.Int("threads", &c.run.threads, 0, 1024);
  r.Int("seed", &c.run.seed, 0);
  r.Bool("log_internals", &c.run.log_internals);
  r.String("device", &c.run.device);
  r.String("precision", &c.run.precision);
  if (auto s = r.Finish(); !s.ok()) return s;
  if (auto d = UsableDevice(c.run.device); !d.ok()) return r.Bad("device", std::string(d.status().message()));
  if (auto p = ParsePrecision(c.run.precision); !p.ok()) {
    return r.Bad("precision", std::string(p.status().message()));
  }
  if (c.optim.warmup_steps > c.run.steps) {
    return Section(j, "optim", where, flag_of).Bad("warmup_steps", absl::StrCat("must be <= run.steps ", c.run.steps, ", got ",
                                              c.optim.warmup_steps));
  }
  return c;
}

absl::StatusOr<Json> ReadTrainConfigJson(const std::string& path) { return ReadJsonFile(path); }

void SetField(Json& config, const std::string& dotted, Json value) {
  size_t dot = dotted.find('.');
  if (dot == std::string::npos) {
    config[dotted] = std::move(value);
    return;
  }
  Json& section = config[dotted.substr(0, dot)];
  if (!section.is_object()) section = Json::object();
  section[dotted.substr(dot + 1)] = std::move(value);
}

absl::StatusOr<std::unique_ptr<data::Tokenizer>> ResolveTokenizerSpec(const std::string& spec) {
  return data::ResolveTokenizer(spec);
}

std::vector<std::string> ModelPresets() { return {"gpt2-tiny", "llama-tiny"}; }

absl::StatusOr<nn::GptConfig> ResolveModelConfig(const Json& model, int64_t vocab_size,
                                                 int64_t seq_len, const std::string& where) {
  Json hf;
  std::string from = where + ": model";
  if (model.is_string()) {
    const std::string name = model.get<std::string>();
    if (name == "gpt2-tiny") {
      hf = nn::TinyGpt2Config(vocab_size, 64, 2, 4, seq_len).ToJson();
    } else if (name == "llama-tiny") {
      hf = nn::TinyLlamaConfig(vocab_size, 64, 2, 4, 2, seq_len).ToJson();
    } else if (name.find('/') != std::string::npos || name.find(".json") != std::string::npos) {
      auto j = ReadJsonFile(name);
      if (!j.ok()) return j.status();
      hf = *j;
      from = name;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": field 'model': unknown preset '", name, "' (known: ",
                       absl::StrJoin(ModelPresets(), ", "), "; or a path to a config.json)"));
    }
  } else {
    hf = model;
  }
  if (hf.is_object()) {
    if (!hf.contains("vocab_size")) hf["vocab_size"] = vocab_size;
    const bool llama = hf.contains("model_type") && hf["model_type"] == "llama";
    const char* pos = llama ? "max_position_embeddings" : "n_positions";
    if (!hf.contains(pos)) hf[pos] = seq_len;
  }
  auto c = nn::GptConfig::FromJson(hf, from);
  if (!c.ok()) return c.status();
  if (c->vocab_size < vocab_size) {
    return absl::InvalidArgumentError(
        absl::StrCat(from, ": field 'vocab_size': ", c->vocab_size,
                     " is smaller than the tokenizer's vocabulary (", vocab_size, ")"));
  }
  if (c->max_positions < seq_len) {
    return absl::InvalidArgumentError(absl::StrCat(
        from, ": field '", c->is_gpt2() ? "n_positions" : "max_position_embeddings", "': ",
        c->max_positions, " positions cannot hold data.seq_len ", seq_len));
  }
  return *c;
}

Json RunIdentity(const Json& config_json) {
  Json j = config_json;
  if (j.contains("run") && j["run"].is_object()) {
    for (const char* k :
         {"stop_after", "eval_every", "save_every", "log_every", "out_dir", "threads",
          "log_internals", "device"}) {
      j["run"].erase(k);
    }
    // f32 is the default: checkpoints written before run.precision existed resume as f32 runs.
    if (j["run"].contains("precision") && j["run"]["precision"] == "f32") j["run"].erase("precision");
  }
  return j;
}

std::string FirstDifference(const Json& a, const Json& b, const std::string& path) {
  auto label = [&] { return path.empty() ? std::string("(whole config)") : path; };
  if (a.is_object() && b.is_object()) {
    std::set<std::string> keys;
    for (const auto& [k, v] : a.items()) keys.insert(k);
    for (const auto& [k, v] : b.items()) keys.insert(k);
    for (const auto& k : keys) {
      std::string sub = path.empty() ? k : path + "." + k;
      if (!a.contains(k) || !b.contains(k)) {
        return absl::StrCat("'", sub, "' is ", a.contains(k) ? Short(a.at(k)) : "absent", " vs ",
                            b.contains(k) ? Short(b.at(k)) : "absent");
      }
      std::string d = FirstDifference(a.at(k), b.at(k), sub);
      if (!d.empty()) return d;
    }
    return "";
  }
  if (a == b) return "";
  return absl::StrCat("'", label(), "' is ", Short(a), " vs ", Short(b));
}

}  // namespace kiln::train
