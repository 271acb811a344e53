#include "train/sft_config.h"

#include "absl/strings/str_cat.h"
#include "tensor/device_memory.h"
#include "train/common.h"
#include "train/config_section.h"

namespace kiln::train {

absl::StatusOr<LossNorm> ParseLossNorm(const std::string& name) {
  if (name == "token") return LossNorm::kToken;
  if (name == "sequence") return LossNorm::kSequence;
  if (name == "sum") return LossNorm::kSum;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown loss normalization '", name, "' (known: token, sequence, sum)"));
}

std::string LossNormName(LossNorm n) {
  switch (n) {
    case LossNorm::kToken:
      return "token";
    case LossNorm::kSequence:
      return "sequence";
    case LossNorm::kSum:
      return "sum";
  }
  return "token";
}

OptimConfig SftConfig::DefaultSftOptim() {
  OptimConfig o;
  o.lr = 1e-4;
  o.weight_decay = 0.0;
  o.warmup_ratio = 0.03;
  o.schedule = "cosine";
  o.clip = 1.0;
  return o;
}

Json SftConfig::ToJson() const {
  Json j;
  j["model"] = model;
  j["data"] = {{"train", data.train},
               {"val", data.val},
               {"val_fraction", data.val_fraction},
               {"tokenizer", data.tokenizer},
               {"max_len", data.max_len},
               {"pack", data.pack},
               {"shuffle", data.shuffle},
               {"seed", data.seed},
               {"global_batch", data.global_batch},
               {"micro_batch", data.micro_batch},
               {"normalization", data.normalization},
               {"min_supervised_share", data.min_supervised_share}};
  j["optim"] = OptimToJson(optim);
  j["run"] = {{"epochs", run.epochs},       {"steps", run.steps},
              {"stop_after", run.stop_after}, {"save_steps", run.save_steps},
              {"save_every", run.save_every}, {"log_every", run.log_every},
              {"out_dir", run.out_dir},       {"threads", run.threads},
              {"device", run.device},     {"precision", run.precision}};
  return j;
}

absl::StatusOr<SftConfig> SftConfig::FromJson(const Json& j, const std::string& where,
                                              const std::map<std::string, std::string>& flag_of) {
  if (!j.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": expected a JSON object, got ", Short(j)));
  }
  for (const auto& [k, v] : j.items()) {
    if (k != "model" && k != "data" && k != "optim" && k != "run") {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": unknown field '", k, "' (known: model, data, optim, run)"));
    }
  }
  SftConfig c;
  auto by = [&](const std::string& field) {
    auto it = flag_of.find(field);
    return it == flag_of.end() ? std::string() : " (set by " + it->second + ")";
  };
  if (!j.contains("model") || !j["model"].is_string() || j["model"].get<std::string>().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": field 'model'", by("model"),
        j.contains("model") ? ": expected a model folder path, got " + Short(j["model"])
                            : ": missing (the base model folder; --model DIR)"));
  }
  c.model = j["model"].get<std::string>();

  Section d(j, "data", where, flag_of);
  if (const Json* v = d.Get("train"); v && (!v->is_string() || v->get<std::string>().empty())) {
    return d.Bad("train", "expected a JSONL file name, got " + Short(*v));
  }
  d.String("train", &c.data.train);
  if (const Json* v = d.Get("val"); v && !v->is_string()) {
    return d.Bad("val", "expected a JSONL file name or \"\", got " + Short(*v));
  } else if (v) {
    c.data.val = v->get<std::string>();
  }
  d.Double("val_fraction", &c.data.val_fraction, 0, false, 1, /*max_open=*/true);
  if (const Json* v = d.Get("tokenizer"); v && !v->is_string()) {
    return d.Bad("tokenizer", "expected byte, gpt2, a tokenizer file or \"\", got " + Short(*v));
  } else if (v) {
    c.data.tokenizer = v->get<std::string>();
  }
  d.Int("max_len", &c.data.max_len, 2, 1 << 20);
  d.Bool("pack", &c.data.pack);
  d.Bool("shuffle", &c.data.shuffle);
  d.Int("seed", &c.data.seed, 0);
  d.Int("global_batch", &c.data.global_batch, 1, 1 << 20);
  d.Int("micro_batch", &c.data.micro_batch, 0, 1 << 20);
  d.String("normalization", &c.data.normalization, {"token", "sequence", "sum"});
  d.Double("min_supervised_share", &c.data.min_supervised_share, 0, false, 1);
  if (auto s = d.Finish(); !s.ok()) return s;
  if (c.data.train.empty()) {
    return d.Bad("train", "missing (the SFT JSONL; --data FILE)");
  }
  if (!c.data.val.empty() && c.data.val_fraction > 0) {
    return d.Bad("val_fraction", "give a validation file (data.val) or a fraction, not both");
  }
  if (c.data.micro_batch == 0) c.data.micro_batch = c.data.global_batch;
  if (c.data.global_batch % c.data.micro_batch != 0) {
    return d.Bad("micro_batch",
                 absl::StrCat(c.data.micro_batch, " does not divide data.global_batch ",
                              c.data.global_batch, by("data.global_batch"),
                              " (--micro-batch must divide --global-batch)"));
  }

  OptimConfig optim = DefaultSftOptim();
  if (auto s = ReadOptimSection(j, where, flag_of, &optim); !s.ok()) return s;
  // warmup_steps and warmup_ratio are exclusive: a given warmup_steps replaces the default ratio.
  if (j.contains("optim") && j["optim"].is_object() && j["optim"].contains("warmup_steps") &&
      !j["optim"].contains("warmup_ratio")) {
    optim.warmup_ratio = 0;
  }
  c.optim = optim;

  Section r(j, "run", where, flag_of);
  r.Int("epochs", &c.run.epochs, 1, 1 << 20);
  r.Int("steps", &c.run.steps, 0);
  r.Int("stop_after", &c.run.stop_after, 0);
  if (const Json* v = r.Get("save_steps")) {
    if (!v->is_array()) return r.Bad("save_steps", "expected a list of steps, got " + Short(*v));
    for (const Json& e : *v) {
      if (!e.is_number_integer() || e.get<int64_t>() < 0) {
        return r.Bad("save_steps", "expected steps >= 0, got an element " + Short(e));
      }
      c.run.save_steps.push_back(e.get<int64_t>());
    }
    std::sort(c.run.save_steps.begin(), c.run.save_steps.end());
    c.run.save_steps.erase(std::unique(c.run.save_steps.begin(), c.run.save_steps.end()),
                           c.run.save_steps.end());
  }
  r.Int("save_every", &c.run.save_every, 0);
  r.Int("log_every", &c.run.log_every, 1);
  r.String("out_dir", &c.run.out_dir);
  r.Int("threads", &c.run.threads, 0, 1024);
  r.String("device", &c.run.device);
  r.String("precision", &c.run.precision);
  if (auto s = r.Finish(); !s.ok()) return s;
  if (auto d = UsableDevice(c.run.device); !d.ok()) return r.Bad("device", std::string(d.status().message()));
  if (auto p = ParsePrecision(c.run.precision); !p.ok()) {
    return r.Bad("precision", std::string(p.status().message()));
  }
  if (c.run.steps > 0 && c.optim.warmup_steps > c.run.steps) {
    return Section(j, "optim", where, flag_of)
        .Bad("warmup_steps", absl::StrCat("must be <= run.steps ", c.run.steps, ", got ",
                                          c.optim.warmup_steps));
  }
  return c;
}

absl::StatusOr<SftConfig> SftConfigFromJson(const Json& j) {
  return SftConfig::FromJson(j, "sft config");
}

Json SftRunIdentity(const Json& config_json) {
  Json j = config_json;
  if (j.contains("run") && j["run"].is_object()) {
    for (const char* k :
         {"stop_after", "save_steps", "save_every", "log_every", "out_dir", "threads", "device"}) {
      j["run"].erase(k);
    }
    // f32 is the default: checkpoints written before run.precision existed resume as f32 runs.
    if (j["run"].contains("precision") && j["run"]["precision"] == "f32") j["run"].erase("precision");
  }
  return j;
}

}  // namespace kiln::train
